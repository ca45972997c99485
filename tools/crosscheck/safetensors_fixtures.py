#!/usr/bin/python3
"""Cross-check fixtures for @sift/tensor-core's safetensors I/O and float16/bfloat16 conversions.

Debian's python3 has no `safetensors` package, so this script writes and reads the format by hand with `struct` +
`json`, following the reference implementation (huggingface/safetensors, safetensors/src/tensor.rs): tensors sorted
by dtype alignment (the Rust `Dtype` enum order, largest first) then by name, a compact JSON header with
`__metadata__` first, padded with spaces to a multiple of 8, and data offsets that tile the data section.

Run with Debian's interpreter (numpy 1.24, torch 1.13), from the repository root:

    /usr/bin/python3 tools/crosscheck/safetensors_fixtures.py            # (re)writes the fixtures below
    /usr/bin/python3 tools/crosscheck/safetensors_fixtures.py check FILE # parses FILE, prints its content as JSON

Fixtures (packages/tensor-core/test/fixtures/io/):
  python-written.safetensors / .json  every dtype, a scalar, an empty tensor, odd names, metadata; the .json holds
                                      the exact values and the header layout
  f16-bf16-rounding.safetensors       float32 inputs `x` chosen at rounding boundaries (half/bfloat16 midpoints and
                                      their float32 neighbours, subnormals, overflow, random bit patterns), numpy's
                                      `x.astype(np.float16)` as `x_f16` and torch's `.to(torch.bfloat16)` as `x_bf16`
  f16-bf16-rounding.json              CRC-32 of numpy's float16->float32 and torch's bfloat16->float32 over all
                                      65,536 bit patterns
`check` prints {"metadata", "header_size", "tensors": {name: {dtype, shape, data_offsets, values}}} and exits 1 with
a message on stderr if the file breaks a rule of the format. Values: floats as numbers ("nan", "inf", "-inf" as
strings), 64-bit integers as decimal strings, BOOL as true/false, F16/BF16 decoded to float.
"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "packages", "tensor-core", "test", "fixtures", "io")

# Rust `Dtype` enum order (the serializer sorts by it, descending) and element sizes.
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
NP = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16, "F16": np.float16,
      "BF16": np.uint16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
      "I64": np.int64, "U64": np.uint64}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw little-endian bytes)}. Layout as the reference serializer."""
    items = sorted(tensors.items(), key=lambda kv: (-ORDER.index(kv[1][0]), kv[0].encode("utf-8")))
    header = {}
    if metadata is not None:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name, (dtype, shape, raw) in items:
        n = SIZE[dtype] * int(np.prod(shape, dtype=np.int64))
        assert len(raw) == n, (name, len(raw), n)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, (_, _, raw) in items:
            f.write(raw)


def fail(msg):
    sys.stderr.write("invalid safetensors: " + msg + "\n")
    sys.exit(1)


def read_safetensors(path):
    """Parses and validates like SafeTensors::read_metadata + Metadata::validate. Returns (header_size, meta, entries)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        fail("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > 100_000_000 or 8 + n > len(buf):
        fail("bad header length %d" % n)
    text = buf[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with {")

    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            fail("duplicate key")
        return dict(pairs)

    header = json.loads(text, object_pairs_hook=no_dupes)
    meta = header.pop("__metadata__", None) or {}
    if not all(isinstance(v, str) for v in meta.values()):
        fail("non-string metadata")
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos = 0
    for name, e in entries:
        b, end = e["data_offsets"]
        if b != pos or end < b:
            fail("offsets of %r" % name)
        if end - b != SIZE[e["dtype"]] * int(np.prod(e["shape"], dtype=np.int64)):
            fail("size of %r" % name)
        pos = end
    if pos != len(buf) - 8 - n:
        fail("data section not covered")
    data = buf[8 + n:]
    return n, meta, [(name, e, data[e["data_offsets"][0]:e["data_offsets"][1]]) for name, e in entries]


def to_json_values(dtype, raw):
    if dtype == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        a = np.frombuffer(raw, dtype=np.dtype(NP[dtype]).newbyteorder("<"))
    if dtype in ("I64", "U64"):
        return [str(int(v)) for v in a]
    if dtype == "BOOL":
        return [bool(v) for v in a]
    if dtype in ("F16", "BF16", "F32", "F64"):
        out = []
        for v in a.astype(np.float64):
            out.append("nan" if math.isnan(v) else ("inf" if v == math.inf else ("-inf" if v == -math.inf else float(v))))
        return out
    return [int(v) for v in a]


def check(path):
    n, meta, entries = read_safetensors(path)
    aligned = (8 + n) % 8 == 0 and all(e["data_offsets"][0] % SIZE[e["dtype"]] == 0 for _, e, _ in entries)
    print(json.dumps({
        "header_size": n, "aligned": aligned, "metadata": meta,
        "tensors": {name: {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": e["data_offsets"],
                           "values": to_json_values(e["dtype"], raw)} for name, e, raw in entries},
    }, ensure_ascii=False))


def interop_fixture():
    import torch  # only the fixture writers need torch; `check` needs numpy alone
    rng = np.random.default_rng(20240611)
    f32 = rng.standard_normal((3, 4)).astype(np.float32)
    f16 = np.array([1.0, -2.0, 65504.0, 2.0 ** -24, np.inf, -0.0, np.nan, 0.1], dtype=np.float16)
    bf16 = torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32)).to(torch.bfloat16)
    bf16_bits = bf16.view(torch.int16).numpy().view(np.uint16)
    tensors = {
        "model.f32.weight": ("F32", [3, 4], f32.astype("<f4").tobytes()),
        "model.f16.weight": ("F16", [8], f16.astype("<f2").tobytes()),
        "model.bf16.weight": ("BF16", [2, 3], bf16_bits.astype("<u2").tobytes()),
        "f64": ("F64", [4], np.array([np.pi, -1e300, 5e-324, 0.1], dtype="<f8").tobytes()),
        "i8": ("I8", [4], np.array([-128, -1, 0, 127], dtype="i1").tobytes()),
        "u8": ("U8", [4], np.array([0, 1, 128, 255], dtype="u1").tobytes()),
        "i16": ("I16", [3], np.array([-32768, 7, 32767], dtype="<i2").tobytes()),
        "u16": ("U16", [3], np.array([0, 40000, 65535], dtype="<u2").tobytes()),
        "i32": ("I32", [2, 2], np.array([[-2 ** 31, -1], [0, 2 ** 31 - 1]], dtype="<i4").tobytes()),
        "u32": ("U32", [2], np.array([0, 2 ** 32 - 1], dtype="<u4").tobytes()),
        "ids.i64": ("I64", [5], np.array([-2 ** 63, -1, 0, 2 ** 53 + 1, 2 ** 63 - 1], dtype="<i8").tobytes()),
        "u64": ("U64", [2], np.array([0, 2 ** 64 - 1], dtype="<u8").tobytes()),
        "mask": ("BOOL", [2, 2], np.array([[True, False], [False, True]]).tobytes()),
        "scalar": ("F32", [], np.array(3.5, dtype="<f4").tobytes()),
        "empty": ("F32", [0, 3], b""),
        "ünïcode.名前": ("I32", [2], np.array([1, 2], dtype="<i4").tobytes()),
        'odd "name"\twith escapes': ("U8", [1], b"\x2a"),
    }
    metadata = {"format": "pt", "note": "written by tools/crosscheck/safetensors_fixtures.py, ünïcode ✓"}
    path = os.path.join(OUT, "python-written.safetensors")
    write_safetensors(path, tensors, metadata)
    # The expected content, decoded independently of the writer above.
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    desc = {"file_size": len(raw), "header_size": n, "metadata": metadata,
            "order": [k for k in json.loads(raw[8:8 + n].decode("utf-8")) if k != "__metadata__"],
            "tensors": {name: {"dtype": d, "shape": s, "values": to_json_values(d, b)} for name, (d, s, b) in tensors.items()}}
    with open(os.path.join(OUT, "python-written.json"), "w", encoding="utf-8") as f:
        json.dump(desc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def rounding_fixture():
    import torch
    rng = np.random.default_rng(7)
    xs = []
    # Special values and the boundaries of binary16: max, overflow tie (65520), smallest subnormal and its tie (2^-25),
    # smallest normal 2^-14, the subnormal/normal tie, float32 extremes.
    specials = [0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, 65504.0, 65519.996, 65520.0, 65536.0, 1e9,
                2.0 ** -24, 2.0 ** -25, 2.0 ** -26, 3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -15,
                np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.4e-45, 0.1, 1 / 3, np.pi, 3.3895314e38]
    xs += [np.float32(v) for v in specials] + [np.float32(-v) for v in specials]
    up = lambda a: np.nextafter(a, np.float32(np.inf), dtype=np.float32)  # noqa: E731
    down = lambda a: np.nextafter(a, np.float32(-np.inf), dtype=np.float32)  # noqa: E731
    # Midpoints between consecutive halves (exact in float32), and their float32 neighbours; many in the subnormals.
    hb = np.concatenate([rng.integers(0, 0x7bff, 1200), rng.integers(0, 0x0400, 300)]).astype(np.uint16)
    lo = hb.view(np.float16).astype(np.float32)
    hi = (hb + 1).astype(np.uint16).view(np.float16).astype(np.float32)
    mid = ((lo.astype(np.float64) + hi.astype(np.float64)) / 2).astype(np.float32)
    sign = np.where(rng.random(mid.size) < 0.5, -1, 1).astype(np.float32)
    for m, s in zip(mid, sign):
        xs += [s * m, s * up(m), s * down(m)]
    # bfloat16 midpoints (low half 0x8000) and neighbours.
    bb = rng.integers(0, 0x7f7f, 1000).astype(np.uint32) | (rng.integers(0, 2, 1000).astype(np.uint32) << 15)
    for b in bb:
        m = (b << 16) | 0x8000
        xs += [np.uint32(m).view(np.float32), np.uint32(m + 1).view(np.float32), np.uint32(m - 1).view(np.float32)]
    # Random float32 bit patterns (a few NaNs among them).
    xs += list(rng.integers(0, 2 ** 32, 2000, dtype=np.uint64).astype(np.uint32).view(np.float32))
    x = np.array(xs, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        x16 = x.astype(np.float16).view(np.uint16)
    xb = torch.from_numpy(x.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    write_safetensors(os.path.join(OUT, "f16-bf16-rounding.safetensors"), {
        "x": ("F32", [x.size], x.astype("<f4").tobytes()),
        "x_f16": ("F16", [x.size], x16.astype("<u2").tobytes()),
        "x_bf16": ("BF16", [x.size], xb.astype("<u2").tobytes()),
    }, {"source": "numpy %s astype(float16); torch %s to(bfloat16)" % (np.__version__, torch.__version__)})
    allbits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    f16_f32 = allbits.view(np.float16).astype(np.float32)
    bf16_f32 = torch.from_numpy(allbits.view(np.int16).copy()).view(torch.bfloat16).to(torch.float32).numpy()
    with open(os.path.join(OUT, "f16-bf16-rounding.json"), "w") as f:
        json.dump({"count": int(x.size),
                   "f16_to_f32_crc32": zlib.crc32(f16_f32.astype("<f4").tobytes()),
                   "bf16_to_f32_crc32": zlib.crc32(bf16_f32.astype("<f4").tobytes())}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        os.makedirs(OUT, exist_ok=True)
        interop_fixture()
        rounding_fixture()
        print("wrote fixtures to", OUT)

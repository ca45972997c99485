import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SiftError } from '@sift/tensor-core';
import { ByteTokenizer } from './byte-tokenizer.js';
import { loadTokenizer } from './files.js';
import { HfTokenizer, tokenizerFromJson } from './hf.js';
import type { HfTokenizerJson } from './types.js';

/** A hand-written BERT-style WordPiece tokenizer.json with 13 tokens. */
const WORDPIECE = readFileSync(new URL('../../test/fixtures/tokenizer/wordpiece-tiny.tokenizer.json', import.meta.url), 'utf8');

const dir = mkdtempSync(join(tmpdir(), 'sift-hf-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('HfTokenizer', () => {
  it('runs a WordPiece tokenizer.json through @huggingface/tokenizers, without the BOS/EOS template', () => {
    const tok = tokenizerFromJson(WORDPIECE);
    expect(tok).toBeInstanceOf(HfTokenizer);
    expect(tok.kind).toBe('hf');
    expect(tok.vocabSize).toBe(13);
    expect(tok.encode('The grand jury said, playing.')).toEqual([4, 7, 5, 6, 11, 9, 10, 12]);
    expect(tok.encode('Zebra')).toEqual([1]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([4, 7, 5, 9, 10])).toBe('the grand jury playing');
    expect(tok.decode([])).toBe('');
    expect(tok.specialTokens).toEqual({ '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3 });
    expect([tok.bosId, tok.eosId, tok.eotId]).toEqual([2, 3, 3]);
    expect(tok.idToToken(8)).toBe('##s');
    expect(tok.tokenToId('jury')).toBe(5);
    expect(() => tok.decode([13])).toThrow(/id 13 at position 0 is outside \[0, 13\)/);
    expect(tok.toJSON()).toEqual(JSON.parse(WORDPIECE));
  });

  it('takes BOS/EOS names from tokenizer_config.json', () => {
    const json = JSON.parse(WORDPIECE) as HfTokenizerJson;
    const tok = new HfTokenizer(json, { bos_token: '[SEP]', eos_token: { content: '[CLS]' } });
    expect([tok.bosId, tok.eosId]).toEqual([3, 2]);
  });

  it('rejects unsupported model types and malformed files with clear errors', () => {
    const json = JSON.parse(WORDPIECE) as HfTokenizerJson;
    const wordLevel = { ...json, model: { ...json.model, type: 'WordLevel' } };
    expect(() => tokenizerFromJson(wordLevel)).toThrow(SiftError);
    expect(() => tokenizerFromJson(wordLevel)).toThrow(/model type "WordLevel" is not supported. Supported: BPE, WordPiece, Unigram/);
    expect(() => tokenizerFromJson(wordLevel)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }) as Error);
    expect(() => tokenizerFromJson(WORDPIECE, { engine: 'sift' })).toThrow(/engine "sift".*not BPE/);
    expect(() => tokenizerFromJson('{"model":')).toThrow(/not valid JSON/);
    expect(() => tokenizerFromJson('{"added_tokens":[]}')).toThrow(/must be an object with "model" and "added_tokens"/);
    // @ts-expect-error: checking the runtime guard
    expect(() => tokenizerFromJson(WORDPIECE, { engine: 'rust' })).toThrow(/engine must be "auto", "hf" or "sift"/);
  });

  it('loads tokenizer.json (+ tokenizer_config.json) from a folder or a file', async () => {
    writeFileSync(join(dir, 'tokenizer.json'), WORDPIECE);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '[SEP]' }));
    const tok = await loadTokenizer(dir);
    expect(tok.bosId).toBe(3);
    expect((await loadTokenizer(join(dir, 'tokenizer.json'))).bosId).toBe(2);
    writeFileSync(join(dir, 'byte.json'), JSON.stringify(new ByteTokenizer()));
    expect(await loadTokenizer(join(dir, 'byte.json'))).toBeInstanceOf(ByteTokenizer);
    await expect(loadTokenizer(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(loadTokenizer(mkdtempSync(join(dir, 'empty-')))).rejects.toThrow(/holds neither tokenizer.json nor encoder.json/);
  });
});

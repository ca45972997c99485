import { SiftError } from '@sift/tensor-core';
import type { Tokenizer } from '../tokenizer/types.js';

/** A document as the stream builders take it: plain text or anything with a `text` (a `BrownDocument`). */
export type StreamDocument = string | { readonly text: string };

/** Options of `encodeDocuments`. */
export interface EncodeDocumentsOptions {
  /**
   * Id written between documents; default `tokenizer.eotId` (`<|endoftext|>`, GPT-2's document separator). `null`
   * joins documents with nothing between them.
   */
  separator?: number | null;
  /** Called after each document. */
  onProgress?: (p: { stage: 'encode'; done: number; total: number }) => void;
}

/**
 * Encodes documents into one token stream `[N]` int32: the documents' ids joined by the separator id (GPT-2
 * style: `doc1 <|endoftext|> doc2 <|endoftext|> doc3`). Empty input throws `SiftError('E_EMPTY')`.
 * @example
 * const stream = encodeDocuments(tokenizer, docs); // Int32Array
 */
export function encodeDocuments(
  tokenizer: Tokenizer,
  documents: readonly StreamDocument[],
  options: EncodeDocumentsOptions = {},
): Int32Array {
  if (documents.length === 0) throw new SiftError('E_EMPTY', 'encodeDocuments: got no documents to encode.');
  const separator = options.separator === undefined ? tokenizer.eotId : options.separator;
  if (separator === undefined) {
    throw new SiftError('E_CONFIG', `encodeDocuments: the ${tokenizer.kind} tokenizer has no end-of-text token to put ` +
      'between documents. Pass { separator: id } (e.g. its EOS id) or { separator: null }.');
  }
  if (separator !== null && !(Number.isInteger(separator) && separator >= 0 && separator < tokenizer.vocabSize)) {
    throw new SiftError('E_CONFIG', `encodeDocuments: separator ${separator} is outside the vocabulary [0, ${tokenizer.vocabSize}).`);
  }
  const parts: number[][] = [];
  let total = 0;
  documents.forEach((doc, i) => {
    const ids = tokenizer.encode(typeof doc === 'string' ? doc : doc.text);
    parts.push(ids);
    total += ids.length;
    options.onProgress?.({ stage: 'encode', done: i + 1, total: documents.length });
  });
  const sepCount = separator === null ? 0 : documents.length - 1;
  if (total === 0) throw new SiftError('E_EMPTY', `encodeDocuments: the ${documents.length} document(s) encode to no tokens (all empty).`);
  const out = new Int32Array(total + sepCount);
  let pos = 0;
  parts.forEach((ids, i) => {
    if (i > 0 && separator !== null) out[pos++] = separator;
    out.set(ids, pos);
    pos += ids.length;
  });
  return out;
}

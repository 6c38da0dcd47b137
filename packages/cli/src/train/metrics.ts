/**
 * Retrieval metrics of the training job: recall@k of spelling -> pronunciation
 * over the held-out split, and the chance level beside it.
 */
import { cosineSimilarity, Tensor } from 'pairloss';
import { release, take } from './host';

/** A held-out retrieval task: each query's correct item in a gallery of distinct items. */
export interface RetrievalTask {
  /** The query rows (indices into the data set). */
  readonly queries: Int32Array;
  /** The gallery rows (indices into the data set), one per distinct pronunciation. */
  readonly gallery: Int32Array;
  /** For each query, the position of its pronunciation in `gallery`. */
  readonly target: Int32Array;
}

/**
 * Builds the retrieval task of a split: each held-out spelling is a query; the gallery holds each
 * distinct held-out pronunciation once (homophones share their item, so either spelling finds it).
 */
export function retrievalTask(rows: ArrayLike<number>, prons: readonly string[]): RetrievalTask {
  const position = new Map<string, number>();
  const gallery: number[] = [];
  const target = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const p = prons[rows[i]];
    let g = position.get(p);
    if (g === undefined) {
      g = gallery.length;
      position.set(p, g);
      gallery.push(rows[i]);
    }
    target[i] = g;
  }
  return { queries: Int32Array.from(rows), gallery: Int32Array.from(gallery), target };
}

/** Recall@k values and the chance level of each. */
export interface Recall {
  /** Fraction of queries whose item ranks first. */
  recall1: number;
  /** Fraction of queries whose item is among the first 10. */
  recall10: number;
  /** Expected recall@1 of a random ranking: 1 / gallery size. */
  chance1: number;
  /** Expected recall@10 of a random ranking: min(10, gallery size) / gallery size. */
  chance10: number;
  /** Mean rank of the correct item (1 = first). */
  meanRank: number;
}

/**
 * Ranks each query's correct item by cosine similarity (computed by pairloss's `cosineSimilarity`) and
 * counts how often it is first / among the first 10. A tie with another item counts against the query.
 *
 * @param queries - query embeddings `[n, d]`, row-major.
 * @param gallery - gallery embeddings `[m, d]`, row-major.
 * @param target - the correct gallery row of each query.
 * @param device - where the similarities are computed.
 */
export function recallAtK(
  queries: Float32Array,
  gallery: Float32Array,
  d: number,
  target: Int32Array,
  device = 'cpu',
): Recall {
  const n = target.length;
  const m = gallery.length / d;
  let hit1 = 0;
  let hit10 = 0;
  let rankSum = 0;
  // the gallery is placed on the device once; each chunk's queries and
  // similarities are freed as soon as they are read
  const g = Tensor.from(gallery, [m, d], { device });
  // in chunks of rows, to keep the [chunk, m] similarity block small
  const chunk = 512;
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const q = Tensor.from(queries.subarray(start * d, (start + rows) * d), [rows, d], { device });
    const s = take(cosineSimilarity(q, g));
    release(q);
    for (let r = 0; r < rows; r++) {
      const t = target[start + r];
      const base = r * m;
      const own = s[base + t];
      let better = 0;
      for (let j = 0; j < m; j++) if (j !== t && s[base + j] >= own) better++;
      if (better < 1) hit1++;
      if (better < 10) hit10++;
      rankSum += better + 1;
    }
  }
  release(g);
  return {
    recall1: hit1 / n,
    recall10: hit10 / n,
    chance1: 1 / m,
    chance10: Math.min(10, m) / m,
    meanRank: rankSum / n,
  };
}

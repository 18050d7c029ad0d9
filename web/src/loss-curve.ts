/** The training's per-epoch losses as uPlot columns (epoch on x; a missing loss is a gap). */
export type EpochRecord = { epoch: number; loss: number | null; val_loss: number | null };

export function lossColumns(history: EpochRecord[] | null | undefined): [number[], (number | null)[], (number | null)[]] {
  const epochs = [...(history ?? [])].sort((a, b) => a.epoch - b.epoch);
  const finite = (v: number | null) => (v != null && Number.isFinite(v) ? v : null);
  return [epochs.map((e) => e.epoch), epochs.map((e) => finite(e.loss)), epochs.map((e) => finite(e.val_loss))];
}

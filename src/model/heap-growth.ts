/**
 * One type's change between two heap censuses: computed by agents/heap.ts, shown by `memhunt heap`
 * and the report page (render may not import agents: the shape lives here, in the model).
 */
export interface TypeGrowth {
  typeName: string;
  count: number;
  bytes: number;
  countDelta: number;
  bytesDelta: number;
  /** Absent from the previous census, which listed every type: a type that appeared. */
  isNew: boolean;
  /**
   * Absent from the previous census because it was below that census's top (its "(other)" row):
   * the deltas are then upper bounds (the type had between 0 and the smallest listed size).
   */
  wasUnlisted: boolean;
  /** Listed before, absent now: gone, or fell below the top. */
  isGone: boolean;
  /**
   * How much of the growth this type is, by objects and by bytes alike (see growthScore): 0 to 2.
   * Ranking by bytes alone hid object leaks (a fitted forest's DecisionTreeClassifier objects
   * under +10 MiB of str); by counts alone, big buffers.
   */
  score: number;
}

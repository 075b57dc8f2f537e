let nextId = 0;

/** Ids shaped like the service's (`item_…`, `resp_…`), unique within the process. */
export const id = (prefix: string) => `${prefix}_${(++nextId).toString(36).padStart(6, '0')}`;

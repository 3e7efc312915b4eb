/* The pure membership core: quorum math, member classification and the join / promote / termination /
 * reconcile plans. No I/O and no SDK imports anywhere under lambda/core/. */
export * from './types';
export * from './quorum';
export * from './render';
export * from './join';
export * from './promote';
export * from './termination';
export * from './reconcile';
export * from './restore';
export * from './restore-source';
export * from './incremental';
export * from './log-compaction';
export * from './incremental-policy';
export * from './drill';

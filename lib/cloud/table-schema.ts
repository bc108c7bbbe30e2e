/** Names shared by the table definitions (`lib/infra/tables.ts`) and the stores that use them. */
export const MODELS_BY_DICE_INDEX = 'byDice';
/** Sort key of the item that points at a stage's promoted ("current") ensemble. */
export const CURRENT_RUN_ID = 'CURRENT';

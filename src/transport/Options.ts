/**
 * Checks shared by the transports' options.
 */

/** A count or a size: a positive safe integer. */
export const isPositiveInt = (value: number): boolean => Number.isSafeInteger(value) && value > 0

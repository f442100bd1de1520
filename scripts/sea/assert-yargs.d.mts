export function strictEqual(actual: unknown, expected: unknown, message?: string): void;
export function notStrictEqual(actual: unknown, expected: unknown, message?: string): void;

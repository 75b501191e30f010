/** The memhunt version, written into every recording header. Kept in step with package.json by a test. */
export const MEMHUNT_VERSION = '0.1.0';

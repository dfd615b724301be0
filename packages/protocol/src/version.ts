/** Version of the wire protocol between supervisor and agent; both sides must agree exactly. */
export const PROTOCOL_VERSION = 4;

/** Version of the shared directory's layout and file formats, written to its `format` file. */
export const DIRECTORY_FORMAT = 2;

/** The Malocher release; a test keeps it equal to the packages' `version`. */
export const MALOCHER_VERSION = "0.1.0";

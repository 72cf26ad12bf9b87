/**
 * The AMR-NB decoder of benz-amr-recorder (opencore-amr compiled to asm.js) runs as a worker: the package
 * ships it as a worker body (`self.onmessage` with `{command: "decode", buffer}`, answered with
 * `{command: "decode", amr: Float32Array | null}`), and decoding a minute of voice takes a few hundred
 * milliseconds of CPU that must not stall the event loop of the node answering webhooks.
 */
// @ts-expect-error the package has no types for its decoder file
import body from "benz-amr-recorder/src/amrnb.js";

body();

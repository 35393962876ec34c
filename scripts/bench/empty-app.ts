/** The bench's floor: an empty cdktf app, started the same way as main.ts. */
import { App } from "cdktf";

new App().synth();

// Renders ZPL (file argv[2]) to PNG (argv[3]) with zebrash (zpl-renderer-js): width_mm, height_mm, dpmm.
const fs = require("node:fs");
const { ready } = require("zpl-renderer-js");
(async () => {
  const [zplPath, pngPath, w, h, dpmm] = process.argv.slice(2);
  const { api } = await ready;
  const b64 = await api.zplToBase64Async(fs.readFileSync(zplPath, "utf8"), Number(w), Number(h), Number(dpmm));
  fs.writeFileSync(pngPath, Buffer.from(b64, "base64"));
  process.exit(0);
})().catch((e) => { console.error(String(e)); process.exit(1); });

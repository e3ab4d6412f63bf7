/**
 * The part of qrcode-generator (MIT) the demo page uses. The server serves the package's ES module
 * as /demo/qrcode.js, beside demo.js, so the page imports it as `./qrcode.js`.
 */
export interface QrCode {
  addData(data: string): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, column: number): boolean;
}

/** `typeNumber` 0 picks the smallest size that fits. */
declare function qrcode(typeNumber: number, errorCorrectionLevel: 'L' | 'M' | 'Q' | 'H'): QrCode;
export default qrcode;

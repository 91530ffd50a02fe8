// Compiles ArkaAnchor.sol with the npm `solc` package (solc-js) into ArkaAnchor.json.
// Usage: node contracts/compile.js [out.json]   (needs `npm install solc@0.8.37`)
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const source = fs.readFileSync(path.join(__dirname, "ArkaAnchor.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "ArkaAnchor.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const contract = output.contracts["ArkaAnchor.sol"].ArkaAnchor;
const artifact = {
  contractName: "ArkaAnchor",
  compiler: "solc-js " + solc.version(),
  settings: input.settings,
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
const out = process.argv[2] || path.join(__dirname, "..", "src", "arka", "anchor", "ArkaAnchor.json");
fs.writeFileSync(out, JSON.stringify(artifact, null, 2) + "\n");
console.log("wrote " + out + " (" + artifact.compiler + ")");

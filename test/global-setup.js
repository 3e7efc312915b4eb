/* Builds the run-time bundles once before the tests when they are missing or older than their sources. */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

module.exports = async () => {
  const root = path.resolve(__dirname, '..');
  const bundles = ['build/agent/agent.js', 'build/lambda/index.js', 'build/fleet/cli.js'].map((p) =>
    path.join(root, p),
  );
  const built = Math.min(...bundles.map((p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0)));
  if (built < Math.max(newestMtime(path.join(root, 'lambda')), newestMtime(path.join(root, 'fleet')))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.js')], { stdio: 'inherit' });
  }
};

// Reading and writing a batch script's #SBATCH options (--name=value or --name value), as the composer
// shows them in its form.

function directivePattern(option) {
  return new RegExp(`^#SBATCH[ \\t]+--${option}(?:=|[ \\t]+)(\\S*).*$`, "m");
}

export function readDirective(script, option) {
  const match = directivePattern(option).exec(script);
  return match ? match[1] : null;
}

// The script with `#SBATCH --option=value` in place of the option's line, or added after the last
// leading #SBATCH line (sbatch reads them only before the first command); no value removes it.
export function setDirective(script, option, value) {
  const line = `#SBATCH --${option}=${value}`;
  const pattern = directivePattern(option);
  if (pattern.test(script)) return value ? script.replace(pattern, line) : script.replace(new RegExp(`${pattern.source}\\n?`, "m"), "");
  if (!value) return script;
  const lines = script.split("\n");
  let at = lines[0] && lines[0].startsWith("#!") ? 1 : 0;
  for (let index = at; index < lines.length; index += 1) {
    const text = lines[index].trim();
    if (text.startsWith("#SBATCH")) at = index + 1;
    else if (text && !text.startsWith("#")) break;
  }
  lines.splice(at, 0, line);
  return lines.join("\n");
}

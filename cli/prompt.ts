/**
 * Reading secrets for the remote CLI: the first line of stdin when it is a pipe (scripts), a prompt
 * without echo on a terminal. Never from argv, which `ps` and shell history show.
 */
export async function readSecret(label: string, input: NodeJS.ReadStream = process.stdin): Promise<string> {
  const line = await promptSecret(label, input);
  if (!line) throw new Error(`no ${label.toLowerCase()} given (pipe it on stdin, or type it at the prompt)`);
  return line;
}

/** The first line of stdin, or a no-echo prompt on a terminal; undefined when nothing was given. */
export async function promptSecret(label: string, input: NodeJS.ReadStream): Promise<string | undefined> {
  const line = input.isTTY ? await promptWithoutEcho(label, input) : await firstLine(input);
  return line === undefined || line.length === 0 ? undefined : line;
}

export async function readLine(label: string, input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!input.isTTY) throw new Error(`${label.toLowerCase()} is required (pass it as a flag)`);
  process.stderr.write(`${label}: `);
  const line = await firstLine(input);
  if (!line) throw new Error(`no ${label.toLowerCase()} given`);
  return line.trim();
}

async function firstLine(input: NodeJS.ReadableStream): Promise<string | undefined> {
  let text = "";
  for await (const chunk of input) {
    text += chunk.toString();
    if (text.includes("\n")) break;
  }
  return text.length === 0 ? undefined : text.split(/\r?\n/)[0];
}

function promptWithoutEcho(label: string, input: NodeJS.ReadStream): Promise<string | undefined> {
  process.stderr.write(`${label}: `);
  return new Promise((resolve) => {
    let typed = "";
    const finish = (value: string | undefined) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      resolve(value);
    };
    const onData = (data: Buffer) => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(typed);
        if (char === "\u0003" || char === "\u0004") return finish(undefined); // Ctrl-C, Ctrl-D
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += char;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on("data", onData);
  });
}

import test from "ava";
import { EXERCISES } from "../../exercises/index.ts";
import { KATEX_STYLE_ATTRIBUTE, renderStatement } from "../../exercises/statement.ts";

/** Statements as HTML: maths typeset by KaTeX, no inline style left for the CSP to refuse. */

function count(html: string, pattern: RegExp): number {
  return html.match(pattern)?.length ?? 0;
}

test("displayed and inline maths are typeset; dollars in code and prices stay text", (t) => {
  const html = renderStatement(
    "Sum: $$G_t = r_t + \\gamma G_{t+1}$$\n\nwith $G_T = 0$ and `echo $HOME` for $5 or $ 3 $.\n\n```\nx = $y$\n```",
  );
  t.is(count(html, /class="katex-display"/g), 1);
  t.is(count(html, /class="katex"/g), 2);
  t.true(html.includes("<code>echo $HOME</code>"));
  t.true(html.includes("for $5 or $ 3 $."));
  t.true(html.includes("x = $y$"));
});

test("KaTeX's inline styles leave as data attributes, never as style attributes", (t) => {
  const html = renderStatement("$$\\frac{a}{b}$$");
  t.false(/\sstyle="/.test(html));
  t.true(count(html, new RegExp(`${KATEX_STYLE_ATTRIBUTE}="[^"]*(height|top):`, "g")) > 0);
});

for (const exercise of EXERCISES) {
  test(`${exercise.id}: its statement typesets without an error and leaves no $ outside code`, (t) => {
    const html = renderStatement(exercise.statement);
    t.false(html.includes("katex-error"));
    // Outside code and KaTeX's own TeX annotations, no dollar sign is left.
    const prose = html
      .replace(/<code>[\s\S]*?<\/code>/g, "")
      .replace(/<annotation[\s\S]*?<\/annotation>/g, "");
    t.false(prose.includes("$"));
  });
}

import katex from "katex";
import { Marked, type TokenizerAndRendererExtension, type Tokens } from "marked";

/**
 * An exercise's statement as HTML, rendered once on the server: Markdown (GitHub's flavour) with its
 * maths typeset by KaTeX, so that a page shows formulas without running a TeX engine of its own.
 *
 * Maths is written as in pandoc and KaTeX's auto-render: `$$…$$` displayed, `$…$` inline, where an
 * inline `$` opens only before a non-space and closes only after one and not before a digit (pandoc's
 * "tex_math_dollars" rule), so that prices and shell variables stay text. Code spans and blocks are
 * Markdown's own and never typeset.
 *
 * KaTeX lays formulas out with inline `style` attributes (heights, offsets). The dashboard's CSP
 * refuses style attributes (api/middleware/security-headers.ts), so they leave here as
 * `data-katex-style`, and the page applies each through the CSSOM (element.style), which the CSP
 * allows. KaTeX's stylesheet and fonts are bundled with the dashboard (web/build.ts).
 */
export const KATEX_STYLE_ATTRIBUTE = "data-katex-style";

interface MathToken extends Tokens.Generic {
  type: "math";
  raw: string;
  tex: string;
  display: boolean;
}

const DISPLAY = /^\$\$([\s\S]+?)\$\$/;
const INLINE = /^\$(?![\s$])((?:\\\$|[^$])+?)(?<![\s\\])\$(?!\d)/;

const math: TokenizerAndRendererExtension = {
  name: "math",
  level: "inline",
  start(src) {
    const at = src.indexOf("$");
    return at < 0 ? undefined : at;
  },
  tokenizer(src): MathToken | undefined {
    const display = DISPLAY.exec(src);
    if (display) return { type: "math", raw: display[0], tex: display[1]!.trim(), display: true };
    const inline = INLINE.exec(src);
    // A blank line ends a paragraph: maths never spans one.
    if (inline && !/\n\s*\n/.test(inline[1]!)) {
      return { type: "math", raw: inline[0], tex: inline[1]!, display: false };
    }
    return undefined;
  },
  renderer(token) {
    const { tex, display } = token as MathToken;
    return typesetMath(tex, display);
  },
};

const markdown = new Marked({ gfm: true, async: false }).use({ extensions: [math] });

/** One formula as KaTeX's HTML and MathML; a formula KaTeX cannot parse shows its source, marked. */
export function typesetMath(tex: string, display: boolean): string {
  const html = katex.renderToString(tex, {
    displayMode: display,
    throwOnError: false,
    output: "htmlAndMathml",
  });
  // KaTeX escapes `"` in attribute values, so a style attribute's value never contains one.
  return html.replace(/ style="([^"]*)"/g, ` ${KATEX_STYLE_ATTRIBUTE}="$1"`);
}

export function renderStatement(source: string): string {
  return markdown.parse(source, { async: false });
}

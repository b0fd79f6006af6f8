//! A small SVG writer and the axes every figure shares.
//!
//! Figures are written by hand rather than through a plotting crate so that every element
//! carries a class a test can count (`km-curve`, `censor`, …) and the files stay small and
//! self-contained for the HTML report.

use std::fmt::Write as _;

/// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The font stack: DejaVu Sans is bundled for PNG rendering; browsers fall back.
pub const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// Text safe inside an SVG or HTML element or attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Coordinates with two decimals: enough for the screen, small files.
fn n(v: f64) -> String {
    if v.is_finite() {
        let r = (v * 100.0).round() / 100.0;
        if r == 0.0 {
            "0".to_owned()
        } else {
            r.to_string()
        }
    } else {
        "0".to_owned()
    }
}

/// An SVG document being written.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    /// An empty drawing of this size in pixels.
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// Opens a `<g>` whose elements carry `class` (tests count them).
    pub fn open_group(&mut self, class: &str) {
        let _ = writeln!(self.body, "<g class=\"{}\">", escape(class));
    }

    /// A group whose contents are clipped to `frame`'s plotting area; `id` must be unique
    /// in the page that shows the figure.
    pub fn open_clipped(&mut self, class: &str, id: &str, frame: &Frame) {
        let _ = writeln!(
            self.body,
            "<clipPath id=\"{id}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n<g class=\"{}\" clip-path=\"url(#{id})\">",
            n(frame.left),
            n(frame.top),
            n(frame.width),
            n(frame.height),
            escape(class)
        );
    }

    /// Closes the innermost open group.
    pub fn close_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    /// A straight line, solid or dashed.
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str, width: f64, dash: bool) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"{}/>",
            n(from.0),
            n(from.1),
            n(to.0),
            n(to.1),
            n(width),
            if dash {
                " stroke-dasharray=\"5 4\""
            } else {
                ""
            }
        );
    }

    /// An open path through `points` (a curve), with a class for tests and styling.
    pub fn path(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, class: &str) {
        if points.is_empty() {
            return;
        }
        let points = &decimate(points);
        let mut d = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { " L" }, n(*x), n(*y));
        }
        let _ = writeln!(
            self.body,
            "<path class=\"{class}\" d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>",
            n(width)
        );
    }

    /// A dashed open path (thresholds).
    pub fn dashed_path(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, class: &str) {
        let start = self.body.len();
        self.path(points, stroke, width, class);
        if self.body.len() > start {
            self.body.truncate(self.body.len() - 3);
            self.body.push_str(" stroke-dasharray=\"6 4\"/>\n");
        }
    }

    /// A closed, filled polygon (a band or a stacked area).
    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str, opacity: f64, class: &str) {
        if points.len() < 3 {
            return;
        }
        let pts: Vec<String> = decimate(points)
            .iter()
            .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
            .collect();
        let _ = writeln!(
            self.body,
            "<polygon class=\"{class}\" points=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\" stroke=\"none\"/>",
            pts.join(" "),
            n(opacity)
        );
    }

    /// A rectangle.
    #[allow(clippy::too_many_arguments)]
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, opacity: f64, class: &str) {
        let _ = writeln!(
            self.body,
            "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\"/>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            n(opacity)
        );
    }

    /// A filled circle.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, class: &str) {
        let _ = writeln!(
            self.body,
            "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"/>",
            n(x),
            n(y),
            n(r)
        );
    }

    /// Text; `anchor` is start, middle or end; `rotate` turns it about its anchor point.
    pub fn text(&mut self, x: f64, y: f64, s: &str, size: f64, anchor: &str, rotate: bool) {
        let transform = if rotate {
            format!(" transform=\"rotate(-90 {} {})\"", n(x), n(y))
        } else {
            String::new()
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\"{transform}>{}</text>",
            n(x),
            n(y),
            n(size),
            escape(s)
        );
    }

    /// The finished document (no XML declaration, so it can be inlined in HTML).
    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\" fill=\"#222\">\n<title>{}</title>\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{}</svg>\n",
            escape(title),
            self.body,
            w = n(self.width),
            h = n(self.height),
        )
    }
}

/// One axis: a data range mapped linearly or logarithmically onto [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Data value at the start of the axis.
    pub low: f64,
    /// Data value at its end.
    pub high: f64,
    /// Logarithmic (both ends positive).
    pub log: bool,
}

impl Axis {
    /// A linear axis over [low, high] (widened if empty).
    pub fn linear(low: f64, high: f64) -> Axis {
        let (low, high) = if high > low && low.is_finite() && high.is_finite() {
            (low, high)
        } else if low.is_finite() {
            (low - 0.5, low + 0.5)
        } else {
            (0.0, 1.0)
        };
        Axis {
            low,
            high,
            log: false,
        }
    }

    /// A log axis spanning whole decades around the positive values in [low, high].
    pub fn log(low: f64, high: f64) -> Axis {
        let low = if low > 0.0 && low.is_finite() {
            low
        } else {
            1e-3
        };
        let high = if high > low && high.is_finite() {
            high
        } else {
            low * 10.0
        };
        Axis {
            low: 10f64.powf(low.log10().floor()),
            high: 10f64.powf(high.log10().ceil()),
            log: true,
        }
    }

    /// Where `v` falls, 0 at `low` and 1 at `high` (clamped a little beyond).
    pub fn fraction(&self, v: f64) -> f64 {
        let f = if self.log {
            let v = v.max(self.low * 1e-3);
            (v.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (v - self.low) / (self.high - self.low)
        };
        if f.is_finite() {
            f.clamp(-0.05, 1.05)
        } else {
            0.0
        }
    }

    /// Tick values and labels: 1-2-5 steps, or decades on a log axis.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            let (a, b) = (
                self.low.log10().round() as i32,
                self.high.log10().round() as i32,
            );
            let every = ((b - a) / 8 + 1).max(1);
            return (a..=b)
                .filter(|k| (k - a) % every == 0)
                .map(|k| (10f64.powi(k), power_of_ten(k)))
                .collect();
        }
        let span = self.high - self.low;
        let raw = span / 6.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| span / s <= 7.0)
            .unwrap_or(10.0 * magnitude);
        let first = (self.low / step).ceil() as i64;
        let last = (self.high / step + 1e-9).floor() as i64;
        (first..=last)
            .map(|i| {
                let v = i as f64 * step;
                (v, short_number(v, step))
            })
            .collect()
    }
}

/// 10 to the power k, with superscript digits.
fn power_of_ten(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    if k == 0 {
        return "1".to_owned();
    }
    if k == 1 {
        return "10".to_owned();
    }
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().chars() {
        s.push(SUP[d.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// A tick label with no more decimals than the step needs.
fn short_number(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let s = format!("{v:.decimals$}");
    if s == "-0" { "0".to_owned() } else { s }
}

/// A plotting area in pixels with its two axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Left edge in pixels.
    pub left: f64,
    /// Top edge in pixels.
    pub top: f64,
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
}

impl Frame {
    /// The pixel column of data value `v`.
    pub fn px(&self, v: f64) -> f64 {
        self.left + self.x.fraction(v) * self.width
    }

    /// The pixel row of data value `v`.
    pub fn py(&self, v: f64) -> f64 {
        self.top + (1.0 - self.y.fraction(v)) * self.height
    }

    /// The pixel row of the bottom edge.
    pub fn bottom(&self) -> f64 {
        self.top + self.height
    }

    /// The pixel column of the right edge.
    pub fn right(&self) -> f64 {
        self.left + self.width
    }

    /// The horizontal axis's grid, ticks and tick labels, and its base line.
    fn x_ticks(&self, svg: &mut Svg) {
        for (v, label) in self.x.ticks() {
            let x = self.px(v);
            svg.line((x, self.top), (x, self.bottom()), "#f0f0f0", 1.0, false);
            svg.line(
                (x, self.bottom()),
                (x, self.bottom() + 5.0),
                "#444",
                1.0,
                false,
            );
            svg.text(x, self.bottom() + 18.0, &label, 12.0, "middle", false);
        }
        svg.line(
            (self.left, self.bottom()),
            (self.right(), self.bottom()),
            "#444",
            1.0,
            false,
        );
    }

    /// The horizontal axis's label.
    fn x_label(&self, svg: &mut Svg, label: &str) {
        svg.open_group("axis-label x-label");
        svg.text(
            self.left + self.width / 2.0,
            self.bottom() + 38.0,
            label,
            13.0,
            "middle",
            false,
        );
        svg.close_group();
    }

    /// The horizontal axis alone, for figures whose rows have names rather than a scale
    /// (a tornado).
    pub fn draw_x(&self, svg: &mut Svg, x_label: &str) {
        svg.open_group("axes");
        self.x_ticks(svg);
        svg.close_group();
        self.x_label(svg, x_label);
    }

    /// Grid, ticks, tick labels and axis labels.
    pub fn draw(&self, svg: &mut Svg, x_label: &str, y_label: &str) {
        svg.open_group("axes");
        for (v, label) in self.y.ticks() {
            let y = self.py(v);
            svg.line((self.left, y), (self.right(), y), "#e4e4e4", 1.0, false);
            svg.text(self.left - 6.0, y + 4.0, &label, 12.0, "end", false);
        }
        self.x_ticks(svg);
        svg.line(
            (self.left, self.top),
            (self.left, self.bottom()),
            "#444",
            1.0,
            false,
        );
        svg.close_group();
        self.x_label(svg, x_label);
        svg.open_group("axis-label y-label");
        svg.text(
            self.left - 52.0,
            self.top + self.height / 2.0,
            y_label,
            13.0,
            "middle",
            true,
        );
        svg.close_group();
    }
}

/// Progression threshold and progression time: a dark red no series uses.
pub const PROGRESSION: &str = "#A50026";

/// Greys for dosing bands, so they never share a colour with a series.
pub const DOSING: [&str; 3] = ["#4d4d4d", "#8c8c8c", "#b3b3b3"];

/// The colour of drug `k`'s dosing.
pub fn dosing_colour(k: usize) -> &'static str {
    DOSING[k % DOSING.len()]
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// A dot.
    Dot,
    /// A filled block.
    Block,
}

/// Screen points reduced to what a figure can show: of each run of consecutive points in
/// the same half-pixel column, the first, the lowest, the highest and the last are kept (in
/// their order), so the drawn line looks the same while a run of 2 million records makes
/// a path of a few thousand points.
pub fn decimate(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let column = |p: &(f64, f64)| (p.0 * 2.0).round() as i64;
    let mut out = Vec::with_capacity(points.len().min(8192));
    let mut i = 0;
    while i < points.len() {
        let c = column(&points[i]);
        let mut j = i;
        while j + 1 < points.len() && column(&points[j + 1]) == c {
            j += 1;
        }
        let run = &points[i..=j];
        if run.len() <= 4 {
            out.extend_from_slice(run);
        } else {
            let (mut lo, mut hi) = (0, 0);
            for (k, p) in run.iter().enumerate() {
                if p.1 < run[lo].1 {
                    lo = k;
                }
                if p.1 > run[hi].1 {
                    hi = k;
                }
            }
            let mut keep = vec![0, lo, hi, run.len() - 1];
            keep.sort_unstable();
            keep.dedup();
            out.extend(keep.into_iter().map(|k| run[k]));
        }
        i = j + 1;
    }
    out
}

/// Characters of legend text per line: the legend column beside a figure is ~170 px wide.
const LEGEND_CHARS: usize = 22;

/// `text` broken into lines of at most `max` characters, after spaces, `_` or `-` where it
/// can, so a long name is shown whole instead of cut off by the edge of the figure.
pub fn split_label(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut word = String::new();
    let flush_word = |line: &mut String, word: &mut String, lines: &mut Vec<String>| {
        if line.chars().count() + word.chars().count() > max && !line.is_empty() {
            lines.push(line.trim_end().to_owned());
            line.clear();
        }
        while word.chars().count() > max {
            let head: String = word.chars().take(max).collect();
            lines.push(head);
            *word = word.chars().skip(max).collect();
        }
        line.push_str(word);
        word.clear();
    };
    for c in text.chars() {
        word.push(c);
        if matches!(c, ' ' | '_' | '-') {
            flush_word(&mut line, &mut word, &mut lines);
        }
    }
    flush_word(&mut line, &mut word, &mut lines);
    if !line.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// A legend: swatches with names, in a column at (x, y); long names wrap.
pub fn legend(svg: &mut Svg, x: f64, y: f64, entries: &[(String, &str, Mark)]) {
    svg.open_group("legend");
    let labels: Vec<Vec<String>> = entries
        .iter()
        .map(|(name, _, _)| split_label(name, LEGEND_CHARS))
        .collect();
    let width = labels
        .iter()
        .flatten()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0) as f64
        * 7.0
        + 34.0;
    let extra: usize = labels.iter().map(|l| l.len().saturating_sub(1)).sum();
    svg.rect(
        x - 6.0,
        y - 14.0,
        width,
        entries.len() as f64 * 18.0 + extra as f64 * 14.0 + 8.0,
        "#ffffff",
        0.85,
        "legend-box",
    );
    let mut row = y - 18.0;
    for ((_, colour, mark), lines) in entries.iter().zip(&labels) {
        row += 18.0;
        match mark {
            Mark::Line | Mark::Dashed => svg.line(
                (x, row - 4.0),
                (x + 20.0, row - 4.0),
                colour,
                2.5,
                *mark == Mark::Dashed,
            ),
            Mark::Dot => svg.circle(x + 10.0, row - 4.0, 4.0, colour, "legend-dot"),
            Mark::Block => svg.rect(x, row - 10.0, 20.0, 11.0, colour, 0.85, "legend-block"),
        }
        for (k, line) in lines.iter().enumerate() {
            if k > 0 {
                row += 14.0;
            }
            svg.text(x + 26.0, row, line, 12.0, "start", false);
        }
    }
    svg.close_group();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        let t = Axis::linear(0.0, 1095.0).ticks();
        assert_eq!(t.first().map(|x| x.0), Some(0.0));
        assert!(t.iter().all(|(v, _)| *v <= 1095.0));
        assert_eq!(t[1].1, "200");
        let l = Axis::log(3e5, 2e9).ticks();
        assert_eq!(l.first().map(|x| x.1.as_str()), Some("10⁵"));
        assert_eq!(l.last().map(|x| x.1.as_str()), Some("10¹⁰"));
        assert_eq!(Axis::linear(0.0, 1.0).ticks()[1].1, "0.2");
    }

    #[test]
    fn decimation_keeps_the_envelope_and_the_ends() {
        // A million points over 600 px: at most 4 a half-pixel column survive.
        let pts: Vec<(f64, f64)> = (0..1_000_000)
            .map(|i| (i as f64 * 600.0 / 1e6, ((i as f64) * 0.001).sin()))
            .collect();
        let d = decimate(&pts);
        assert!(d.len() <= 4 * 1201, "{}", d.len());
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        let (lo, hi) = d
            .iter()
            .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        assert!(lo < -0.9999 && hi > 0.9999);
        // Few points pass untouched, vertical steps included.
        let step = vec![(0.0, 1.0), (10.0, 1.0), (10.0, 0.5), (20.0, 0.5)];
        assert_eq!(decimate(&step), step);
    }

    #[test]
    fn long_labels_wrap_without_losing_a_character() {
        let lines = split_label("on dabrafenib_trametinib", 22);
        assert_eq!(lines, vec!["on dabrafenib_", "trametinib"]);
        let long = "threshold: RECIST 1.1: diameter ≥ 1.2 × nadir and +5 mm";
        let lines = split_label(long, 22);
        assert!(lines.iter().all(|l| l.chars().count() <= 22), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), long.replace(' ', ""));
        assert_eq!(split_label("short", 22), vec!["short"]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}

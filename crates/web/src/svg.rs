//! Charts drawn on the server as SVG (no script, no inline style: the CSP allows neither).

use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 4] = ["#a61b1b", "#0b5cad", "#2f855a", "#b7791f"];

/// A horizontal bar chart of scores, best first, the axis starting at `floor`.
pub fn bars(title: &str, items: &[(String, f64)], floor: f64) -> String {
    let (w, row, left) = (640.0, 22.0, 130.0);
    let h = 30.0 + row * items.len() as f64;
    let max = items.iter().map(|i| i.1).fold(floor + 1.0, f64::max);
    let scale = |v: f64| ((v - floor) / (max - floor)).clamp(0.0, 1.0) * (w - left - 60.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title)
    );
    let _ = write!(
        s,
        r##"<text x="0" y="16" font-size="14" font-weight="bold" fill="#1f2933">{}</text>"##,
        esc(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="12" text-anchor="end" fill="#1f2933">{}</text><rect x="{left}" y="{}" width="{:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="12" fill="#1f2933">{}</text>"##,
            left - 6.0,
            y + 13.0,
            esc(label),
            y + 2.0,
            scale(*v).max(1.0),
            row - 6.0,
            COLORS[0],
            left + scale(*v).max(1.0) + 4.0,
            y + 13.0,
            v
        );
    }
    s.push_str("</svg>");
    s
}

/// A line chart over periods: one line per series; `invert` draws 1 at the top (ranks).
pub fn lines(
    title: &str,
    x_labels: &[String],
    series: &[(String, Vec<Option<f64>>)],
    invert: bool,
) -> String {
    let (w, h, left, top, bottom) = (640.0, 220.0, 48.0, 30.0, 30.0);
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().flatten().copied())
        .collect();
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    if values.is_empty() {
        (lo, hi) = (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let n = x_labels.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - 20.0) * i as f64 / n;
    let y = |v: f64| {
        let t = (v - lo) / (hi - lo);
        let t = if invert { t } else { 1.0 - t };
        top + (h - top - bottom) * t
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title)
    );
    let _ = write!(
        s,
        r##"<text x="0" y="16" font-size="14" font-weight="bold" fill="#1f2933">{}</text>"##,
        esc(title)
    );
    for v in [lo, (lo + hi) / 2.0, hi] {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#dde2e8"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#616e7c">{}</text>"##,
            w - 20.0,
            y(v),
            y(v),
            left - 4.0,
            y(v) + 4.0,
            (v * 100.0).round() / 100.0
        );
    }
    for (i, l) in x_labels.iter().enumerate() {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#616e7c">{}</text>"##,
            x(i),
            h - 8.0,
            esc(l)
        );
    }
    for (k, (name, vals)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<String> = vals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        if pts.len() > 1 {
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
        for (i, v) in vals.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{} {}：{}</title></circle>"#,
                    x(i),
                    y(*v),
                    esc(name),
                    esc(&x_labels[i]),
                    v
                );
            }
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="16" font-size="12" fill="{color}">■ {}</text>"#,
            260 + 120 * k,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale() {
        let svg = bars(
            "得分<测试>",
            &[("甲&乙".into(), 100.0), ("丙".into(), 90.0)],
            80.0,
        );
        assert!(svg.contains("得分&lt;测试&gt;") && svg.contains("甲&amp;乙"));
        assert!(!svg.contains("style="), "no inline style under the CSP");
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn lines_skip_missing_points() {
        let svg = lines(
            "排名",
            &["Q1".into(), "Q2".into(), "Q3".into()],
            &[("名次".into(), vec![Some(3.0), None, Some(1.0)])],
            true,
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<polyline"));
    }
}

//! Page frame and small HTML helpers. Every dynamic value goes through [`esc`]; scripts and
//! styles are separate files (the Content-Security-Policy forbids inline ones), and data for
//! charts travels in `<script type="application/json">` blocks, which are never executed.

use super::auth::Session;
pub use stormwatch_engine::sink::html::escape as esc;
use stormwatch_store::Role;

/// A whole page: skip link, navigation for the signed-in user, main content.
pub fn page(title: &str, who: Option<&Session>, body: &str) -> String {
    let nav = match who {
        Some(s) => {
            let scope = match (&s.role, &s.tenant) {
                (Role::Operator, _) => "operator — every tenant".to_string(),
                (Role::TenantAdmin, Some(t)) => format!("tenant admin — {}", esc(t)),
                (Role::TenantAdmin, None) => "tenant admin".into(),
            };
            format!(
                "<nav aria-label=\"Main\"><a href=\"/ui/\">Overview</a><a href=\"/ui/incidents\">Incidents</a>\
                 <a href=\"/ui/rules\">Rules and feeds</a><a href=\"/ui/settings\">Settings</a>\
                 <span class=\"who\">{} ({scope})</span>\
                 <form method=\"post\" action=\"/ui/logout\" class=\"inline\">{}\
                 <button type=\"submit\">Sign out</button></form></nav>",
                esc(&s.user),
                csrf_field(s)
            )
        }
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} — stormwatch</title><link rel=\"stylesheet\" href=\"/ui/assets/app.css\">\
         <script src=\"/ui/assets/chart.umd.js\" defer></script>\
         <script src=\"/ui/assets/app.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><span class=\"brand\">stormwatch</span>{nav}</header>\
         <main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    )
}

/// The hidden CSRF field of a form.
pub fn csrf_field(s: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&s.csrf)
    )
}

/// Percent-encodes a path segment or query value (unreserved characters pass).
pub fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A level badge (text and colour; the text carries the meaning).
pub fn level(name: &str) -> String {
    format!("<span class=\"lvl lvl-{}\">{}</span>", esc(name), esc(name))
}

/// A table with a caption, header cells and rows of already-escaped cells.
pub fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = format!("<table><caption>{}</caption><thead><tr>", esc(caption));
    for h in head {
        t += &format!("<th scope=\"col\">{}</th>", esc(h));
    }
    t += "</tr></thead><tbody>";
    if rows.is_empty() {
        t += &format!(
            "<tr><td colspan=\"{}\" class=\"empty\">Nothing here.</td></tr>",
            head.len()
        );
    }
    for r in rows {
        t += "<tr>";
        for c in r {
            t += &format!("<td>{c}</td>");
        }
        t += "</tr>";
    }
    t + "</tbody></table>"
}

/// Chart data for `app.js`: a JSON block it reads by id (never executed).
pub fn chart_data(id: &str, data: &serde_json::Value) -> String {
    // `<`, `>`, `&` as JSON escapes: no text in the block can end or confuse the element.
    let json = data
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(
        "<script type=\"application/json\" id=\"{}\">{json}</script>",
        esc(id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_json_cannot_close_or_confuse_its_script_element() {
        let v = serde_json::json!({"labels": ["</script><script>alert(1)</script>", "<!--<script", "a&b"]});
        let out = chart_data("x", &v);
        let inner = &out[out.find('>').unwrap() + 1..out.rfind("</script>").unwrap()];
        assert!(
            !inner.contains('<') && !inner.contains('>') && !inner.contains('&'),
            "{out}"
        );
        let back: serde_json::Value = serde_json::from_str(inner).unwrap();
        assert_eq!(back, v, "the data survives");
    }

    #[test]
    fn url_parts_are_encoded() {
        assert_eq!(url_part("a b/c?d#e%@x.y"), "a%20b%2Fc%3Fd%23e%25@x.y");
    }
}

//! First-party Microsoft application ids and their names, compiled from Microsoft's
//! documentation ("Verify first-party Microsoft applications in sign-in reports") and the
//! community list it is usually read with (data/first_party_apps.tsv names the source of each
//! row). Used to name apps in detections — never to trust them: Storm-0558 read mail through
//! Outlook on the web, a first-party client, with forged tokens.

const TABLE: &str = include_str!("../../data/first_party_apps.tsv");

/// A known first-party app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstParty {
    pub app_id: &'static str,
    pub name: &'static str,
    /// `yes`, `no` or `unknown`: whether the app reads mail (our judgement; see the table).
    pub mail_capable: &'static str,
}

/// Looks an app id up (lowercase GUID).
pub fn first_party(app_id: &str) -> Option<FirstParty> {
    TABLE.lines().skip(1).find_map(|line| {
        let mut cols = line.split('\t');
        let id = cols.next()?;
        if !id.eq_ignore_ascii_case(app_id) {
            return None;
        }
        Some(FirstParty {
            app_id: id,
            name: cols.next().unwrap_or(""),
            mail_capable: cols.next().unwrap_or("unknown"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_mail_clients() {
        assert_eq!(
            first_party("00000002-0000-0ff1-ce00-000000000000")
                .unwrap()
                .name,
            "Office 365 Exchange Online"
        );
        assert_eq!(
            first_party("27922004-5251-4030-B22D-91ECD9A37EA4")
                .unwrap()
                .name,
            "Outlook Mobile"
        );
        assert!(first_party("6c1e6a4c-8f0e-4d35-9a0e-3b7f2d8c5e11").is_none());
        assert!(TABLE.lines().count() > 50);
    }
}

//! The day-by-day plan: benign working days for every user, then the decoys and the intrusion.

use crate::model::{self, Client, Place, Tenant, User, OUTLOOK_MOBILE, OWA, ROLLOUT_APP};
use crate::records::{self, Access, MailAccess};
use crate::rng::Rng;
use crate::{Config, Decoy, Manifest, Output, Planted, Stream, ACTOR_IPS};
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde_json::Value;
use std::io;

const ACTOR_CLIENT_INFO: &str = "Client=REST;Client=RESTSystem;;";

/// One generated record, before the day is sorted.
struct Item {
    at: DateTime<Utc>,
    stream: Stream,
    record: Value,
}

/// Who plays which part (indices into tenants and their users).
struct Cast {
    /// (tenant, user) mailboxes the actor reads.
    targets: Vec<(usize, usize)>,
    intrusion_days: std::ops::Range<u32>,
    traveller: Option<(usize, std::ops::Range<u32>)>,
    rollout: Option<(u32, Vec<usize>)>,
    throttled: Option<(usize, u32)>,
    rest_user: Option<usize>,
}

fn cast(cfg: &Config, tenants: &[Tenant]) -> Cast {
    let users = tenants.first().map_or(0, |t| t.users.len());
    let days = cfg.days;
    let can_intrude = cfg.intrusion && tenants.len() >= 2 && users >= 8 && days >= 4;
    let can_decoy = cfg.decoys && users >= 8 && days >= 6;
    let start = days * 2 / 3;
    Cast {
        targets: if can_intrude {
            vec![(0, 5), (0, 6), (0, 7), (1, 2)]
        } else {
            Vec::new()
        },
        intrusion_days: if can_intrude {
            start..(start + 5).min(days)
        } else {
            0..0
        },
        traveller: can_decoy.then(|| (1, days / 2..days / 2 + 3)),
        rollout: can_decoy.then(|| (days / 3, vec![2, 3])),
        throttled: can_decoy.then(|| (4, days / 2 + 1)),
        rest_user: can_decoy.then_some(4),
    }
}

/// Generates the corpus into `out` and returns its ground truth.
pub fn generate(cfg: &Config, out: &mut dyn Output) -> io::Result<Manifest> {
    let root = Rng::new(cfg.seed);
    let mut tenants = model::tenants(&mut root.fork(1), cfg.tenants, cfg.users_per_tenant);
    let cast = cast(cfg, &tenants);
    if let Some((user, _)) = cast.throttled {
        // The throttled decoy syncs from a phone.
        let u = &mut tenants[0].users[user];
        u.clients.retain(|c| *c != OUTLOOK_MOBILE);
        u.clients.insert(0, OUTLOOK_MOBILE);
    }
    let mut ids = root.fork(2);
    let mut manifest = Manifest {
        seed: cfg.seed,
        tenants: tenants.iter().map(|t| t.id.clone()).collect(),
        actor_ips: ACTOR_IPS.iter().map(|s| s.to_string()).collect(),
        actor_app_id: OWA.app_id.to_string(),
        ..Manifest::default()
    };
    for &(t, u) in &cast.targets {
        manifest.intrusion.push(Planted {
            tenant: tenants[t].id.clone(),
            mailbox: tenants[t].users[u].upn.clone(),
            record_ids: Vec::new(),
        });
    }
    let mut first: Option<DateTime<Utc>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    for day in 0..cfg.days {
        let date = cfg.start + Duration::days(i64::from(day));
        let mut rng = root.fork(1000 + u64::from(day));
        let mut items = Vec::new();
        for (ti, tenant) in tenants.iter().enumerate() {
            if ti == 0 {
                if let Some((consent_day, _)) = &cast.rollout {
                    if day == *consent_day {
                        let at = date + Duration::hours(9);
                        let id = ids.guid();
                        let record =
                            records::consent(&id, tenant, &tenant.users[0], &ROLLOUT_APP, at);
                        items.push(Item {
                            at,
                            stream: Stream::EntraAudit,
                            record,
                        });
                    }
                }
            }
            for (ui, user) in tenant.users.iter().enumerate() {
                let role = Role::of(&cast, ti, ui, day);
                let mut day_ids = Vec::new();
                user_day(
                    &mut rng,
                    &mut ids,
                    tenant,
                    user,
                    date,
                    &role,
                    cfg.mail_per_day,
                    &mut items,
                    &mut day_ids,
                );
                if let Some(kind) = role.decoy {
                    if !day_ids.is_empty() {
                        manifest.decoys.push(Decoy {
                            kind,
                            tenant: tenant.id.clone(),
                            user: user.upn.clone(),
                            record_ids: day_ids,
                        });
                    }
                }
            }
        }
        if cast.intrusion_days.contains(&day) {
            for (n, &(t, u)) in cast.targets.iter().enumerate() {
                let planted = actor_day(
                    &mut rng,
                    &mut ids,
                    &tenants[t],
                    &tenants[t].users[u],
                    date,
                    &mut items,
                );
                manifest.intrusion[n].record_ids.extend(planted);
            }
        }
        items.sort_by_key(|i| i.at);
        for item in &items {
            out.write(item.stream, &item.record)?;
            manifest.records += 1;
            first = Some(first.map_or(item.at, |f| f.min(item.at)));
            last = Some(last.map_or(item.at, |l| l.max(item.at)));
        }
    }
    manifest.first = first.map(records::entra_time).unwrap_or_default();
    manifest.last = last.map(records::entra_time).unwrap_or_default();
    Ok(manifest)
}

/// What a user does differently on a given day.
struct Role {
    place: Option<Place>,
    extra_client: Option<Client>,
    throttled: bool,
    /// Records of this day are a decoy of this kind (mail reads only).
    decoy: Option<&'static str>,
}

impl Role {
    fn of(cast: &Cast, tenant: usize, user: usize, day: u32) -> Role {
        let mut role = Role {
            place: None,
            extra_client: None,
            throttled: false,
            decoy: None,
        };
        if tenant != 0 {
            return role;
        }
        if let Some((u, days)) = &cast.traveller {
            if *u == user && days.contains(&day) {
                role.place = Some(Place {
                    country: "DE",
                    city: "Berlin",
                    ip: "2001:db8:4d2::17".into(),
                });
                role.decoy = Some("traveller");
            }
        }
        if let Some((from, users)) = &cast.rollout {
            if day >= *from && users.contains(&user) {
                role.extra_client = Some(ROLLOUT_APP);
                if day < from + 3 {
                    role.decoy = Some("new_app_rollout");
                }
            }
        }
        if let Some((u, d)) = cast.throttled {
            if u == user && d == day {
                role.throttled = true;
                role.decoy = Some("throttled_mobile_sync");
            }
        }
        if cast.rest_user == Some(user) && day < 3 && role.decoy.is_none() {
            role.decoy = Some("legitimate_rest");
        }
        role
    }
}

#[allow(clippy::too_many_arguments)]
fn user_day(
    rng: &mut Rng,
    ids: &mut Rng,
    tenant: &Tenant,
    user: &User,
    date: DateTime<Utc>,
    role: &Role,
    mail_per_day: u32,
    items: &mut Vec<Item>,
    decoy_ids: &mut Vec<String>,
) {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let forced = role.decoy.is_some();
    if !forced && !rng.chance(if weekend { 0.25 } else { 0.95 }) {
        return;
    }
    let client = match role.extra_client {
        Some(c) if rng.chance(0.5) || role.decoy == Some("new_app_rollout") => c,
        _ if role.throttled => OUTLOOK_MOBILE,
        _ if rng.chance(0.7) || user.clients.len() == 1 => user.clients[0],
        _ => *rng.pick(&user.clients),
    };
    let place = match &role.place {
        Some(p) => p.clone(),
        None if !weekend && rng.chance(0.8) => user.office.clone(),
        None => user.home.clone(),
    };
    let start =
        date + Duration::minutes(rng.range(7 * 60, 10 * 60)) + Duration::seconds(rng.range(0, 59));
    let session = ids.guid();
    let mut token = ids.token_id();
    let id = ids.guid();
    let signin = records::signin(
        &id, tenant, user, &client, &place, start, &session, &token, true,
    );
    items.push(Item {
        at: start,
        stream: Stream::SignIns,
        record: signin,
    });
    let at = start + Duration::seconds(1);
    let record = records::user_logged_in(&ids.guid(), tenant, user, &client, &place.ip, at);
    items.push(Item {
        at,
        stream: Stream::Ual,
        record,
    });

    let mean = i64::from(mail_per_day.max(1));
    let reads = rng.range((mean / 2).max(1), mean * 3 / 2) as u32;
    let mut offsets: Vec<i64> = (0..reads).map(|_| rng.range(30, 8 * 3600)).collect();
    offsets.sort_unstable();
    let mut hour = 0;
    let mut issued = start;
    for (n, off) in offsets.into_iter().enumerate() {
        let at = start + Duration::seconds(off);
        let slot = off / 3600;
        if slot > hour {
            // Tokens last about an hour: the client refreshes silently.
            hour = slot;
            token = ids.token_id();
            issued = start + Duration::seconds(slot * 3600);
            let id = ids.guid();
            let record = records::signin(
                &id, tenant, user, &client, &place, issued, &session, &token, false,
            );
            items.push(Item {
                at: issued,
                stream: Stream::SignIns,
                record,
            });
        }
        let access = if client.syncs && rng.chance(0.3) {
            Access::Sync
        } else {
            Access::Bind
        };
        let id = ids.guid();
        let access_record = MailAccess {
            id: &id,
            tenant,
            user,
            app_id: client.app_id,
            client_app_id: client.app_id,
            client_info: client.client_info,
            ip: &place.ip,
            at,
            access: if role.throttled && n == 0 {
                Access::Sync
            } else {
                access
            },
            session_id: Some(&session),
            token_id: Some(&token),
            issued_at: issued,
            throttled: role.throttled && n == 0,
            items: rng.range(1, 6) as u32,
        };
        items.push(Item {
            at,
            stream: Stream::Ual,
            record: access_record.to_json(),
        });
        if role.decoy.is_some() {
            decoy_ids.push(id);
        }
    }
    for _ in 0..rng.range(0, 3) {
        let at = start + Duration::seconds(rng.range(60, 8 * 3600));
        let record = records::send(&ids.guid(), tenant, user, &client, &place.ip, at);
        items.push(Item {
            at,
            stream: Stream::Ual,
            record,
        });
    }
    for n in 0..rng.range(0, 3) {
        let at = start + Duration::seconds(rng.range(60, 8 * 3600));
        let record = records::file_accessed(&ids.guid(), tenant, user, &place.ip, at, n as u64);
        items.push(Item {
            at,
            stream: Stream::Ual,
            record,
        });
    }
}

/// The actor's reads of one mailbox on one day: at night, from its infrastructure, with a
/// client string shared with Outlook mobile, with a token that no sign-in ever issued.
fn actor_day(
    rng: &mut Rng,
    ids: &mut Rng,
    tenant: &Tenant,
    user: &User,
    date: DateTime<Utc>,
    items: &mut Vec<Item>,
) -> Vec<String> {
    let ip = *rng.pick(ACTOR_IPS);
    let token = ids.token_id();
    let base = date + Duration::minutes(rng.range(60, 4 * 60));
    let mut planted = Vec::new();
    for n in 0..rng.range(3, 7) {
        let at = base + Duration::seconds(n * rng.range(20, 400));
        let id = ids.guid();
        let record = MailAccess {
            id: &id,
            tenant,
            user,
            app_id: OWA.app_id,
            client_app_id: OWA.app_id,
            client_info: ACTOR_CLIENT_INFO,
            ip,
            at,
            access: if n % 3 == 2 {
                Access::Sync
            } else {
                Access::Bind
            },
            session_id: None,
            token_id: Some(&token),
            issued_at: base - Duration::minutes(5),
            throttled: false,
            items: rng.range(10, 40) as u32,
        }
        .to_json();
        items.push(Item {
            at,
            stream: Stream::Ual,
            record,
        });
        planted.push(id);
    }
    planted
}

//! The synthetic demo county (`serve --demo`): one account per role, department and township,
//! responsible persons and notices, so that every page has content. Every name is made up.

use chrono::{DateTime, Duration, Utc};
use liandong_domain::{Role, UnitKind};
use liandong_store::{Actor, NewNotice, NewUser, PersonKind, ResponsiblePerson, Scope};

use crate::error::Result;
use crate::App;

/// The password of every demo account, shown on the sign-in page in demo mode only.
pub const DEMO_PASSWORD: &str = "Demo#County-2023";

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "建国", "文华", "海燕", "志强", "秀英", "国庆", "丽娟", "明亮", "春花", "永刚", "晓东", "红梅",
];

/// A made-up name, different for each seed.
fn fake_name(seed: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[seed % SURNAMES.len()],
        GIVEN[(seed / SURNAMES.len() + seed * 7) % GIVEN.len()]
    )
}

/// The demo user names, for the sign-in page.
pub const DEMO_ROLE_ACCOUNTS: [(&str, Role); 6] = [
    ("office", Role::OfficeStaff),
    ("leader", Role::Leader),
    ("verifier", Role::Verifier),
    ("taskforce", Role::Taskforce),
    ("auditor", Role::Auditor),
    ("dept-edu", Role::Department),
];

impl App {
    /// Fills the county with demo content once; does nothing if it is already there.
    pub async fn load_demo(&self, now: DateTime<Utc>) -> Result<bool> {
        let store = &self.store;
        if store.user_by_username("office").await?.is_some() {
            return Ok(false);
        }
        let at = now.timestamp();
        let actor = Actor::system("demo");
        // Marked first: a half-loaded demo is still a demo, never served as a real county.
        store.set_meta("demo", "1").await?;
        let hash = self.hash_limited(DEMO_PASSWORD).await?;
        let account =
            |username: String, display_name: String, role: Role, units: Vec<i64>| NewUser {
                username,
                display_name,
                role,
                password_hash: hash.clone(),
                must_change_password: false,
                units,
            };
        let roles = [
            ("office", "联动办公室（演示）", Role::OfficeStaff),
            ("leader", "分管领导（演示）", Role::Leader),
            ("verifier", "核查暗访小组（演示）", Role::Verifier),
            ("taskforce", "县专班办公室（演示）", Role::Taskforce),
            ("auditor", "县纪委监委（演示）", Role::Auditor),
        ];
        for (name, label, role) in roles {
            store
                .create_user(
                    &actor,
                    at,
                    &account(name.into(), label.into(), role, vec![]),
                )
                .await?;
        }
        let departments = store.departments().await?;
        for (i, d) in departments.iter().enumerate() {
            store
                .create_user(
                    &actor,
                    at,
                    &account(
                        format!("dept-{}", d.code),
                        format!("{}（演示）", d.name),
                        Role::Department,
                        vec![d.id],
                    ),
                )
                .await?;
            let people = [
                (PersonKind::Principal, "局长"),
                (PersonKind::InCharge, "副局长"),
                (PersonKind::Direct, "股长"),
            ]
            .iter()
            .enumerate()
            .map(|(k, (kind, post))| ResponsiblePerson {
                kind: *kind,
                name: fake_name(i * 3 + k),
                post: (*post).to_owned(),
            })
            .collect::<Vec<_>>();
            store
                .set_responsible_persons(&actor, &Scope::All, at, d.id, &people)
                .await?;
        }
        for t in store.townships().await? {
            store
                .create_user(
                    &actor,
                    at,
                    &account(
                        format!("town-{}", t.code),
                        format!("{}（演示）", t.name),
                        Role::Township,
                        vec![t.id],
                    ),
                )
                .await?;
        }
        let close: Vec<i64> = departments
            .iter()
            .filter(|d| d.category == liandong_domain::Category::Close)
            .map(|d| d.id)
            .collect();
        let townships: Vec<i64> = store
            .units()
            .await?
            .into_iter()
            .filter(|u| u.kind == UnitKind::Township)
            .map(|u| u.id)
            .collect();
        let office = Actor {
            username: "office".into(),
            role: Role::OfficeStaff.code().into(),
            ..Actor::system("demo")
        };
        let notices = [
            (
                "关于召开本月“5+2”联动机制例会的通知",
                "各成员单位：定于本月 25 日上午 9 时在县乡村振兴局三楼会议室召开“5+2”联动机制例会，请各部门分管负责同志准时参会，不得缺席。",
                vec![],
                Duration::days(2),
            ),
            (
                "关于做好本月乡镇督查评分工作的通知",
                "各紧密型部门：请按照本部门自查方案和评分细则，于次月 5 日前完成对各乡（镇）的督查评分，并将评分排名报送县联动办公室。",
                close,
                Duration::days(1),
            ),
            (
                "关于加强汛期防返贫监测预警的通知",
                "各乡镇：汛期将至，请对辖区内脱贫户和监测对象开展一次住房、饮水安全排查，发现因灾风险即时推送预警信息。",
                townships,
                Duration::hours(3),
            ),
        ];
        for (title, body, targets, ago) in notices {
            store
                .create_notice(
                    &office,
                    (now - ago).timestamp(),
                    &NewNotice {
                        title: title.into(),
                        body: body.into(),
                        targets,
                    },
                )
                .await?;
        }
        Ok(true)
    }
}

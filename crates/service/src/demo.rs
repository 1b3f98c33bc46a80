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
pub(crate) fn fake_name(seed: usize) -> String {
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
        self.load_demo_scoring(&departments, now).await?;
        self.load_demo_monthly(&departments, now).await?;
        self.seed_warning_routes(now).await?;
        self.load_demo_roster(&departments, now).await?;
        self.load_demo_compare(now).await?;
        Ok(true)
    }

    /// A year of scoring: events every month, evaluations, two published quarters with their
    /// acknowledgements, and the last finished quarter submitted with an appeal pending.
    async fn load_demo_scoring(
        &self,
        departments: &[liandong_store::Department],
        now: DateTime<Utc>,
    ) -> Result<()> {
        use liandong_domain::scoring::{Level, RuleCode};
        use liandong_domain::Month;
        use liandong_store::EvaluationKind;
        use rand::{Rng, SeedableRng};
        use rust_decimal::Decimal;

        let store = &self.store;
        let office = Actor {
            username: "office".into(),
            role: Role::OfficeStaff.code().into(),
            ..Actor::system("demo")
        };
        let this_month = Month::of(liandong_domain::deadline::county_date(now));
        let current_q = this_month.quarter();
        let quarters = [
            current_q.prev().prev().prev(),
            current_q.prev().prev(),
            current_q.prev(),
            current_q,
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(20230310);
        // Deductions are common, bonuses rarer; the mix follows what offices record most.
        let menu: [(RuleCode, Option<Level>, &str); 12] = [
            (RuleCode::ReportLate, None, "月度资料逾期 1 天报送"),
            (
                RuleCode::MeetingImproper,
                None,
                "例会由非分管负责同志代为参会",
            ),
            (RuleCode::MeetingAbsent, None, "“5+2”例会缺席"),
            (RuleCode::SelfcheckUnrectified, None, "自查问题到期未整改"),
            (
                RuleCode::AssignedUnrectified,
                None,
                "交办问题经核实仍未整改",
            ),
            (
                RuleCode::NoticePolicyUnimplemented,
                Some(Level::County),
                "县级督查通报政策未落实",
            ),
            (
                RuleCode::NoticePolicyUnimplemented,
                Some(Level::City),
                "市级督查通报政策未落实",
            ),
            (
                RuleCode::WarningVerified,
                None,
                "推送因病预警信息经核查属实",
            ),
            (
                RuleCode::PraiseCommended,
                Some(Level::County),
                "县级通报表扬",
            ),
            (
                RuleCode::PraisePublicity,
                Some(Level::County),
                "县级媒体宣传推介",
            ),
            (
                RuleCode::PraisePublicity,
                Some(Level::City),
                "市级媒体宣传推介",
            ),
            (
                RuleCode::PraiseTypicalSpeech,
                Some(Level::County),
                "县级推进会典型发言",
            ),
        ];
        for q in quarters {
            for m in q.months().into_iter().filter(|m| *m < this_month) {
                for d in departments {
                    for _ in 0..rng.gen_range(0..3) {
                        let (rule, level, note) = menu[rng.gen_range(0..menu.len())];
                        let count = if rule == RuleCode::ReportLate {
                            rng.gen_range(1..3)
                        } else {
                            1
                        };
                        let day = m.day_clamped(rng.gen_range(1..28));
                        let input = crate::scoring::EventInput {
                            department_id: d.id,
                            month: m,
                            rule,
                            level,
                            count,
                            note: note.into(),
                            doc_no: level.map(|_| {
                                format!("召巩固拓展专班〔{}〕{}号", m.year(), rng.gen_range(1..40))
                            }),
                            occurred_on: Some(day),
                        };
                        self.record_event(&office, input, now).await?;
                    }
                }
            }
        }
        let taskforce = Actor {
            username: "taskforce".into(),
            role: Role::Taskforce.code().into(),
            ..Actor::system("demo")
        };
        let at = now.timestamp();
        for q in &quarters[..3] {
            for d in departments {
                if d.category == liandong_domain::Category::Close {
                    let score = Decimal::new(rng.gen_range(1800..2000) * 5, 2);
                    store
                        .set_evaluation(&taskforce, at, *q, d.id, EvaluationKind::Extended, score)
                        .await?;
                }
                if crate::scoring::RANKED_EXTERNALLY.contains(&d.code.as_str()) {
                    let score = Decimal::new(rng.gen_range(180..200) * 5, 1);
                    store
                        .set_evaluation(&office, at, *q, d.id, EvaluationKind::External, score)
                        .await?;
                }
            }
        }
        let leader = Actor {
            username: "leader".into(),
            role: Role::Leader.code().into(),
            ..Actor::system("demo")
        };
        if let Some(last) = departments.iter().find(|d| d.code == "commerce") {
            store
                .flag_lapse(
                    &office,
                    at,
                    quarters[1],
                    last.id,
                    "农村电商项目资金拨付严重滞后，被市级通报",
                )
                .await?;
        }
        let day = 86_400;
        for (i, q) in quarters[..2].iter().enumerate() {
            let start = at - (60 - 30 * i as i64) * day;
            store
                .submit_ranking(&office, start, *q, start + 3 * day)
                .await?;
            store.approve_ranking(&leader, start + 5 * day, *q).await?;
            store.publish_ranking(&office, start + 6 * day, *q).await?;
            for d in departments.iter().filter(|d| d.id % 5 != i as i64) {
                let dept_actor = Actor {
                    username: format!("dept-{}", d.code),
                    role: Role::Department.code().into(),
                    ..Actor::system("demo")
                };
                store
                    .acknowledge_ranking(&dept_actor, &Scope::All, start + 7 * day, *q, d.id)
                    .await?;
            }
        }
        let submitted = quarters[2];
        self.submit_ranking(&office, submitted, now).await?;
        let edu = departments
            .iter()
            .find(|d| d.code == "edu")
            .map(|d| d.id)
            .unwrap_or(1);
        let events = store
            .score_events(&Scope::Units(vec![edu]), &submitted.months(), None)
            .await?;
        // With no appeal window configured there is nothing to appeal.
        if let Some(e) = events
            .iter()
            .find(|e| e.points.is_negative())
            .filter(|_| self.settings.appeal_days > 0)
        {
            let dept_actor = Actor {
                username: "dept-edu".into(),
                role: Role::Department.code().into(),
                ..Actor::system("demo")
            };
            store
                .file_appeal(
                    &dept_actor,
                    &Scope::Units(vec![edu]),
                    at,
                    e.id,
                    "该事项已于规定时间内整改完毕，附整改报告",
                    "整改报告（2 页）",
                )
                .await?;
        }
        Ok(())
    }
}

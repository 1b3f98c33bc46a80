//! The demo county's roster and warnings: made-up households with valid but fake ID numbers
//! (generated with correct check digits, never real people), imported through the same path
//! as a real export, and warnings at every step of their life.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use liandong_domain::roster::{HouseholdKind, RiskType};
use liandong_domain::{IdNumber, Role};
use liandong_store::{Actor, Department, RosterSnapshot};
use rand::{Rng, SeedableRng};

use crate::error::Result;
use crate::warnings::{Subject, WarningInput};
use crate::App;

const VILLAGES: [&str; 6] = ["东关村", "西河村", "南岗村", "北坡村", "前营村", "后湾村"];
const RELATIONS: [&str; 4] = ["配偶", "之子", "之女", "之孙子"];

impl App {
    pub(crate) async fn load_demo_roster(
        &self,
        departments: &[Department],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(20230501);
        let townships = self.store.active_townships().await?;
        let headers: Vec<String> = [
            "户编号",
            "乡镇",
            "村",
            "组",
            "姓名",
            "身份证号",
            "与户主关系",
            "户类型",
            "风险类型",
            "帮扶措施",
            "帮扶责任人",
            "联系电话",
            "健康状况",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let kinds = [
            HouseholdKind::Exited,
            HouseholdKind::Exited,
            HouseholdKind::Exited,
            HouseholdKind::Unstable,
            HouseholdKind::Marginal,
            HouseholdKind::SuddenHardship,
        ];
        let mut rows = Vec::new();
        let mut seq: u16 = 1;
        let mut row_no = 2;
        for (t, (_, town)) in townships.iter().enumerate() {
            for h in 0..20 {
                let no = format!("41132{:02}{:04}", t + 1, h + 1);
                let kind = kinds[rng.gen_range(0..kinds.len())];
                let risk = if kind.monitored() {
                    RiskType::ALL[rng.gen_range(0..RiskType::ALL.len() - 1)].label()
                } else {
                    ""
                };
                let village = VILLAGES[(t + h) % VILLAGES.len()];
                let size = rng.gen_range(1..6);
                for m in 0..size {
                    let birth = NaiveDate::from_ymd_opt(
                        if m == 0 {
                            rng.gen_range(1950..1985)
                        } else {
                            rng.gen_range(1975..2018)
                        },
                        rng.gen_range(1..13),
                        rng.gen_range(1..29),
                    )
                    .unwrap_or_default();
                    let Some(id) = IdNumber::from_parts("411321", birth, seq) else {
                        continue;
                    };
                    seq = seq.wrapping_add(1).max(1);
                    let phone = if m == 0 {
                        format!("1380000{:04}", rng.gen_range(0..10000))
                    } else {
                        String::new()
                    };
                    rows.push((
                        row_no,
                        vec![
                            no.clone(),
                            town.clone(),
                            village.to_owned(),
                            format!("{}", rng.gen_range(1..9)),
                            super::demo::fake_name(t * 101 + h * 7 + m),
                            id.expose().to_owned(),
                            if m == 0 {
                                "户主".into()
                            } else {
                                RELATIONS[m % RELATIONS.len()].into()
                            },
                            kind.label().to_owned(),
                            risk.to_owned(),
                            if kind.monitored() {
                                "产业帮扶、就业帮扶".into()
                            } else {
                                String::new()
                            },
                            super::demo::fake_name(t * 13 + h + 500),
                            phone,
                            if m == 0 && kind == HouseholdKind::Unstable {
                                "慢性病".into()
                            } else {
                                "健康".into()
                            },
                        ],
                    ));
                    row_no += 1;
                }
            }
        }
        let data = liandong_office::import::SheetData { headers, rows };
        let vault = self.vault()?.clone();
        let progress = std::sync::atomic::AtomicUsize::new(0);
        let (households, persons) = crate::roster::check_rows(&data, &townships, &vault, &progress)
            .map_err(|e| crate::error::ServiceError::Internal(format!("演示名单有误：{}", e[0])))?;
        let changes = crate::roster::diff(&RosterSnapshot::default(), households, persons);
        let office = Actor {
            username: "office".into(),
            role: Role::OfficeStaff.code().into(),
            ..Actor::system("demo")
        };
        self.store
            .apply_roster(
                &office,
                now.timestamp() - 86_400 * 20,
                "demo-roster",
                &changes,
            )
            .await?;

        // Warnings at every step: one just pushed, one signed and verified, one closed in
        // assistance (proposing the bonus if its quarter is open), one dismissed.
        let dept = |code: &str| departments.iter().find(|d| d.code == code).map(|d| d.id);
        let as_dept = |code: &str| Actor {
            username: format!("dept-{code}"),
            role: Role::Department.code().into(),
            ..Actor::system("demo")
        };
        let (list, _) = self
            .store
            .households(&liandong_store::HouseholdFilter {
                limit: 40,
                ..Default::default()
            })
            .await?;
        let today = liandong_domain::deadline::county_date(now);
        let plan = [
            (
                "emergency",
                RiskType::Disaster,
                "暴雨致房屋后墙局部坍塌，一家四口临时借住亲戚家",
                1,
                3,
            ),
            (
                "health",
                RiskType::Illness,
                "户主确诊重病住院，自付医疗费用已超过 3 万元",
                3,
                30,
            ),
            (
                "edu",
                RiskType::Schooling,
                "家中 1 名初中生连续两周未到校",
                5,
                50,
            ),
            (
                "police",
                RiskType::Accident,
                "户主交通事故受伤，丧失部分劳动能力",
                2,
                70,
            ),
        ];
        for (k, (code, risk, summary, days, hours)) in plan.into_iter().enumerate() {
            let Some(h) = list.get(k * 9) else { continue };
            let at = now - Duration::hours(hours);
            let w = self
                .push_warning(
                    &as_dept(code),
                    dept(code),
                    "ui",
                    WarningInput {
                        subject: Subject::Household(h.id),
                        risk_type: risk,
                        summary: summary.into(),
                        occurred_on: liandong_domain::deadline::county_date(at)
                            - Duration::days(days),
                        evidence: "部门数据比对及入户走访".into(),
                    },
                    at,
                )
                .await?;
            if k == 0 {
                continue;
            }
            let town = self.store.township(w.township_id).await?;
            let town_actor = Actor {
                username: format!("town-{}", town.code),
                role: Role::Township.code().into(),
                ..Actor::system("demo")
            };
            for r in self.store.receipts(w.id).await? {
                let signer = match departments.iter().find(|d| d.id == r.unit_id) {
                    Some(d) => as_dept(&d.code),
                    None => town_actor.clone(),
                };
                self.store
                    .sign_warning(
                        &signer,
                        (at + Duration::hours(2)).timestamp(),
                        w.id,
                        r.unit_id,
                    )
                    .await?;
            }
            let found = k != 3;
            self.store
                .verify_warning(
                    &town_actor,
                    (at + Duration::hours(10)).timestamp(),
                    w.id,
                    found,
                    if found {
                        "入户核实，情况属实"
                    } else {
                        "入户核实，伤情轻微，已痊愈，无需帮扶"
                    },
                )
                .await?;
            if k == 2 {
                let quarter = liandong_domain::Month::of(today).quarter();
                let open = self.store.ranking_state(quarter).await?.status
                    == liandong_store::RankingStatus::Draft;
                let proposal = if open {
                    let d = dept(code).unwrap_or_default();
                    let category = departments.iter().find(|x| x.id == d).map(|x| x.category);
                    let version = self.rule_version_on(today).await?;
                    category.and_then(|c| {
                        version
                            .table
                            .score(
                                liandong_domain::scoring::RuleCode::WarningVerified,
                                None,
                                1,
                                c,
                            )
                            .ok()
                            .map(|points| liandong_store::NewScoreEvent {
                                department_id: d,
                                month: liandong_domain::Month::of(today),
                                rule: liandong_domain::scoring::RuleCode::WarningVerified,
                                level: None,
                                count: 1,
                                points,
                                rule_version_id: version.id,
                                note: format!("预警第 {} 号经乡镇核实、联动办公室确认属实", w.id),
                                doc_no: None,
                                occurred_on: None,
                            })
                    })
                } else {
                    None
                };
                self.store
                    .close_warning(
                        &office,
                        (at + Duration::hours(20)).timestamp(),
                        w.id,
                        true,
                        "已落实教育资助和控辍保学措施，学生已返校",
                        proposal.as_ref(),
                    )
                    .await?;
            }
        }
        // Shared policies of the last months, with the county's follow-up.
        let policies = [
            (
                "health",
                liandong_domain::scoring::Level::Province,
                "河南省卫生健康委员会",
                "豫卫基层〔2023〕12号",
                40,
                "关于做好农村低收入人口常态化健康帮扶工作的通知",
                "对脱贫人口和监测对象落实家庭医生签约服务，大病专项救治病种扩大到 30 种。",
                "已对全县监测对象完成家庭医生签约。",
            ),
            (
                "medinsure",
                liandong_domain::scoring::Level::City,
                "南阳市医疗保障局",
                "宛医保〔2023〕8号",
                20,
                "关于健全防范化解因病返贫致贫长效机制的实施意见",
                "医疗救助年度限额提高，建立高额医疗费用支出预警监测。",
                "",
            ),
            (
                "edu",
                liandong_domain::scoring::Level::County,
                "南召县教育局",
                "召教〔2023〕21号",
                5,
                "南召县控辍保学工作实施方案",
                "建立辍学学生动态监测和劝返复学机制，落实教育资助政策。",
                "各乡镇已建立控辍保学台账。",
            ),
        ];
        for (code, level, issuer, doc_no, days, title, summary, follow) in policies {
            let Some(d) = dept(code) else { continue };
            let actor = as_dept(code);
            self.store
                .create_policy(
                    &actor,
                    (now - Duration::days(days)).timestamp(),
                    &liandong_store::NewPolicy {
                        department_id: d,
                        level,
                        issuer: issuer.into(),
                        doc_no: doc_no.into(),
                        issued_on: today - Duration::days(days + 3),
                        title: title.into(),
                        summary: summary.into(),
                        follow_up: follow.into(),
                    },
                )
                .await?;
        }
        Ok(())
    }
}

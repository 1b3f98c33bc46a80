//! The monthly part of the demo county: inspection plans, reports (some late, some missing),
//! problem ledgers in every state, township scores, meetings with attendance and tasks,
//! assignments, a verification with its draw and findings, required submissions and photos.
//! Every name and fact is made up.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use liandong_domain::deadline::{county_date, from_county_time};
use liandong_domain::monthly::{
    AssignmentKind, Attendance, FindingOutcome, MeetingKind, ProblemSource, ReportKind,
};
use liandong_domain::{Category, Month, Role};
use liandong_store::{Actor, Department, NewAssignment, NewMeeting, NewProblem, RankingStatus};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::error::Result;
use crate::monthly::FindingTarget;
use crate::photos::PhotoOwner;
use crate::App;

const PHRASES: [&str; 8] = [
    "2 户监测对象信息未及时更新",
    "政策宣传不到位，部分群众知晓率偏低",
    "帮扶台账资料不完整，缺少入户记录",
    "数据比对发现 3 条疑似异常记录未核实",
    "乡镇业务人员培训未覆盖全部村",
    "个别村政策落实情况未按月调度",
    "部分申请材料审核超过规定时限",
    "预警信息推送后未跟踪反馈结果",
];

const MEASURES: [&str; 4] = [
    "逐户核实并更新系统信息",
    "组织入村宣讲并张贴明白卡",
    "补齐台账资料并建立月调度制度",
    "会同乡镇逐条核实，建立销号清单",
];

fn at_local(t: NaiveDateTime) -> i64 {
    from_county_time(t).timestamp()
}

/// A small made-up photo (a coloured gradient), as a phone would send it.
fn demo_photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 360, |x, y| {
        image::Rgb([(x / 2) as u8 ^ seed, (y / 2) as u8, seed.wrapping_mul(37)])
    });
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(img).write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    );
    out
}

impl App {
    pub(crate) async fn load_demo_monthly(
        &self,
        departments: &[Department],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let store = &self.store;
        let mut rng = rand::rngs::StdRng::seed_from_u64(20231105);
        let office = Actor {
            username: "office".into(),
            role: Role::OfficeStaff.code().into(),
            ..Actor::system("demo")
        };
        let as_dept = |d: &Department| Actor {
            username: format!("dept-{}", d.code),
            role: Role::Department.code().into(),
            ..Actor::system("demo")
        };
        let today = county_date(now);
        let this_month = Month::of(today);
        let last = this_month.prev();
        let t = now.timestamp();
        let townships: Vec<_> = store
            .townships()
            .await?
            .into_iter()
            .filter(|x| x.active)
            .collect();

        for d in departments.iter().filter(|d| d.category == Category::Close) {
            let body = format!(
                "一、自查范围：全县 {} 个乡镇，每月抽查不少于 3 个村。\n二、自查内容：对照本部门职责清单逐条检查落实情况。\n三、评分细则：满分 100 分；政策落实 40 分，数据质量 30 分，工作台账 20 分，群众满意度 10 分；每发现一个问题扣 2 分，问题到期未整改加扣 3 分。\n四、排名：按得分由高到低排名，每月通报。",
                townships.len()
            );
            store
                .save_inspection_plan(
                    &as_dept(d),
                    t - 86_400 * 60,
                    d.id,
                    &format!("{}巩固拓展脱贫攻坚成果月自查方案和评分细则", d.name),
                    &body,
                )
                .await?;
        }

        // Last month: most departments reported, a few late, a couple not at all.
        let due = self.report_due(last);
        let mut problem_ids = Vec::new();
        let mut awaiting_close = Vec::new();
        for (i, d) in departments.iter().enumerate() {
            let actor = as_dept(d);
            let found = rng.gen_range(0..4usize);
            let report_at = match i % 9 {
                7 => None,
                4 => Some(at_local(due + Duration::hours(rng.gen_range(10..40))).min(t)),
                _ => Some(
                    at_local(
                        due - Duration::days(rng.gen_range(1..5))
                            - Duration::minutes(rng.gen_range(300..800)),
                    )
                    .min(t),
                ),
            };
            for k in 0..found {
                let duty = &d.duties[(i + k) % d.duties.len()];
                let deadline = last.first_day() + Duration::days(rng.gen_range(10..50));
                let p = NewProblem {
                    department_id: d.id,
                    month: last,
                    duty_no: duty.no,
                    duty_text: duty.text.clone(),
                    source: ProblemSource::SelfInspection,
                    description: PHRASES[(i * 3 + k) % PHRASES.len()].to_owned(),
                    measure: MEASURES[(i + k) % MEASURES.len()].to_owned(),
                    responsible: super::demo::fake_name(i * 5 + k),
                    deadline,
                    long_term: (i + k) % 7 == 3,
                };
                let created =
                    at_local(last.last_day().and_hms_opt(10, 0, 0).unwrap_or_default()).min(t);
                let stored = store.add_problems(&actor, created, &[p], None).await?;
                for s in stored {
                    problem_ids.push((s.id, d.id));
                    match (i + k) % 4 {
                        0 => {
                            store
                                .rectify_problem(
                                    &actor,
                                    created + 3600,
                                    s.id,
                                    "已完成整改，入户核实记录和照片见附件",
                                )
                                .await?;
                            store.close_problem(&office, created + 7200, s.id).await?;
                        }
                        1 => {
                            store
                                .rectify_problem(
                                    &actor,
                                    created + 3600,
                                    s.id,
                                    "已补齐资料，待办公室审核",
                                )
                                .await?;
                            awaiting_close.push((s.id, d.id));
                        }
                        _ => {}
                    }
                }
            }
            if let Some(at) = report_at {
                let body = format!(
                    "本月对照职责清单开展自查，检查乡镇 {} 个、村 {} 个，发现问题 {} 个，已全部录入问题清单并建立整改台账。",
                    rng.gen_range(3..8),
                    rng.gen_range(6..20),
                    found
                );
                let r = store
                    .save_monthly_report(&actor, at, d.id, last, ReportKind::Inspection, &body)
                    .await?;
                if i % 3 == 0 {
                    self.demo_photo(&actor, PhotoOwner::Report(r.id), i as u8, now)
                        .await?;
                }
                if i % 5 != 2 {
                    store
                        .save_monthly_report(
                            &actor,
                            at,
                            d.id,
                            last,
                            ReportKind::Summary,
                            "本月按时参加例会，完成月度自查和问题整改，下月重点推进数据比对和风险线索核实。",
                        )
                        .await?;
                }
            }
            if d.category == Category::Close && i % 4 != 1 {
                let scores: Vec<(i64, Decimal, String)> = townships
                    .iter()
                    .map(|tw| {
                        (
                            tw.id,
                            Decimal::new(rng.gen_range(1700..1990) * 5, 2),
                            String::new(),
                        )
                    })
                    .collect();
                store
                    .save_township_scores(&actor, report_at.unwrap_or(t), d.id, last, &scores)
                    .await?;
            }
        }
        if let Some((pid, dept)) = problem_ids.first().copied() {
            let actor = departments
                .iter()
                .find(|d| d.id == dept)
                .map(as_dept)
                .unwrap_or_else(|| office.clone());
            self.demo_photo(&actor, PhotoOwner::Problem(pid), 9, now)
                .await?;
        }

        // This month: a few early reports.
        for d in departments.iter().take(3) {
            store
                .save_monthly_report(
                    &as_dept(d),
                    t - 3600,
                    d.id,
                    this_month,
                    ReportKind::Inspection,
                    "本月自查正在进行，已检查 2 个乡镇，暂未发现问题。",
                )
                .await?;
        }

        // Meetings: last month's with attendance and decisions, this month's scheduled.
        let held = last.first_day() + Duration::days(19);
        let m = store
            .create_meeting(
                &office,
                at_local(held.and_hms_opt(9, 0, 0).unwrap_or_default()).min(t),
                &NewMeeting {
                    month: last,
                    kind: MeetingKind::Progress,
                    held_on: held,
                    title: format!("{}“5+2”联动推进会", last.label()),
                    agenda: "一、通报上月自查和核查情况\n二、各部门汇报问题整改进展\n三、部署下月重点工作".into(),
                    minutes: String::new(),
                },
            )
            .await?;
        let attendance: Vec<(i64, Attendance, String)> = departments
            .iter()
            .enumerate()
            .map(|(i, d)| match i {
                5 => (d.id, Attendance::Absent, "未请假".to_owned()),
                12 => (
                    d.id,
                    Attendance::Improper,
                    "由一般干部代替分管负责同志参会".to_owned(),
                ),
                _ => (d.id, Attendance::Present, String::new()),
            })
            .collect();
        store
            .record_meeting(
                &office,
                t,
                m.id,
                "会议通报了上月工作情况，议定：一、各部门于本月 25 日前完成到期问题整改；二、紧密型部门按时完成乡镇评分；三、县医保局会同卫健委核实大额医疗费用预警线索。",
                &attendance,
            )
            .await?;
        for (k, d) in departments.iter().enumerate().filter(|(k, _)| k % 8 == 0) {
            let task = store
                .add_task(
                    &office,
                    t,
                    m.id,
                    d.id,
                    "完成会议议定的到期问题整改并报送情况",
                    held + Duration::days(10 + k as i64),
                )
                .await?;
            if k == 0 {
                store
                    .complete_task(&as_dept(d), t, task.id, "已完成整改并报送台账")
                    .await?;
            }
        }
        store
            .create_meeting(
                &office,
                t,
                &NewMeeting {
                    month: this_month,
                    kind: MeetingKind::Exchange,
                    held_on: today,
                    title: format!("{}“5+2”联动交流会", this_month.label()),
                    agenda: "交流信息比对和预警核实的做法".into(),
                    minutes: String::new(),
                },
            )
            .await?;

        // Assignments in every state.
        let kinds = [
            (
                AssignmentKind::Assigned,
                "核实某村 2 户低保边缘户收入变化情况",
                10,
            ),
            (AssignmentKind::Petition, "群众反映危房改造补助未到位", -3),
            (AssignmentKind::Opinion, "网络反映某村饮水工程停水", 5),
            (AssignmentKind::Assigned, "补齐易地搬迁后续扶持台账", 20),
        ];
        let mut assigned = Vec::new();
        for (k, (kind, title, days)) in kinds.iter().enumerate() {
            let d = &departments[(k * 7 + 2) % departments.len()];
            let a = store
                .create_assignment(
                    &office,
                    t - 86_400 * 10,
                    &NewAssignment {
                        kind: *kind,
                        department_id: d.id,
                        title: (*title).into(),
                        detail: "请于时限内核实处理并报送整改情况。".into(),
                        deadline: today + Duration::days(*days),
                    },
                )
                .await?;
            if k >= 2 {
                store
                    .report_assignment(
                        &as_dept(d),
                        t - 86_400,
                        a.id,
                        "已会同乡镇完成整改，附整改前后照片",
                    )
                    .await?;
            }
            assigned.push(a);
        }

        // A verification of last month, with its draw and findings.
        let v = store
            .create_verification(
                &office,
                t,
                last,
                "赵明亮（组长）、孙春花、吴晓东",
                "抽查自查问题整改真实性",
            )
            .await?;
        self.draw_sample(&office, v.id, 5, 2, now).await?;
        let verifier = Actor {
            username: "verifier".into(),
            role: Role::Verifier.code().into(),
            ..Actor::system("demo")
        };
        if let Some(a) = assigned.get(3) {
            self.record_finding(
                &verifier,
                v.id,
                a.department_id,
                FindingTarget::Assignment(a.id),
                FindingOutcome::Rectified,
                None,
                "现场查看台账已补齐，属实",
                "走访 2 户搬迁群众",
                now,
            )
            .await?;
        }
        // A problem found open again proposes its deduction, unless the quarter is frozen.
        if store.ranking_state(last.quarter()).await?.status == RankingStatus::Draft {
            if let Some((pid, dept)) = awaiting_close.first().copied() {
                self.record_finding(
                    &verifier,
                    v.id,
                    dept,
                    FindingTarget::Problem(pid),
                    FindingOutcome::Unrectified,
                    None,
                    "入户核实发现整改未到位，信息仍未更新",
                    "抽查 3 户，2 户信息未更新",
                    now,
                )
                .await?;
            }
        }

        // Required submissions: one past due, one coming.
        let past = last.last_day().and_hms_opt(17, 0, 0).unwrap_or_default();
        let r1 = self
            .create_requirement(
                &office,
                &format!("{}防止返贫动态监测工作总结", last.label()),
                "报送纸质版（盖章）和电子版各一份。",
                past,
                &[],
                now,
            )
            .await?;
        for (i, d) in departments.iter().enumerate() {
            let at = match i % 6 {
                0 => continue,
                1 => at_local(past + Duration::hours(20)),
                _ => at_local(past - Duration::days(1)),
            };
            store
                .submit_requirement(&as_dept(d), at.min(t), r1, d.id, "已报送电子版")
                .await?;
        }
        let close: Vec<i64> = departments
            .iter()
            .filter(|d| d.category == Category::Close)
            .map(|d| d.id)
            .collect();
        self.create_requirement(
            &office,
            "紧密型部门季度乡镇评分排名汇总表",
            "按模板汇总本季度各月乡镇评分排名。",
            (today + Duration::days(6))
                .and_hms_opt(17, 0, 0)
                .unwrap_or_default(),
            &close,
            now,
        )
        .await?;
        Ok(())
    }

    async fn demo_photo(
        &self,
        actor: &Actor,
        owner: PhotoOwner,
        seed: u8,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let bytes = demo_photo(seed);
        self.store_photo(actor, owner, "现场照片.jpg", &bytes, now)
            .await?;
        Ok(())
    }
}

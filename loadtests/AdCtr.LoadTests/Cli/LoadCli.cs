using System.CommandLine;
using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Http;
using AdCtr.LoadTests.Memory;
using AdCtr.LoadTests.Profiles;
using AdCtr.LoadTests.Reports;

namespace AdCtr.LoadTests.Cli;

/// <summary>The <c>adctr-load</c> command line: <c>run</c> one profile, or a <c>suite</c> of profiles with the baseline.</summary>
public static class LoadCli
{
    /// <summary>Exit code for usage errors, including a non-loopback target.</summary>
    public const int UsageError = 2;

    public static RootCommand Build(TextWriter output, TextWriter error) => Build(output, error, null);

    /// <param name="delay">Replaces the waits between the memory command's /metrics readings (tests); null: real time.</param>
    internal static RootCommand Build(TextWriter output, TextWriter error, Func<TimeSpan, CancellationToken, Task>? delay)
    {
        var smoke = new Option<bool>("--smoke") { Description = "Run each scenario for a few seconds at a low rate; exit 1 if any request failed (correctness, not speed)." };
        var outDir = new Option<string>("--out") { Description = "Directory for the Markdown and JSON reports.", DefaultValueFactory = _ => "artifacts/loadtests" };
        var maxSeconds = new Option<double?>("--max-seconds") { Description = "Cap on each scenario's duration, overriding the profile's maxTotalSeconds." };
        var ready = new Option<double>("--ready-timeout") { Description = "Seconds to wait for the server's /health/ready before giving up on a scenario.", DefaultValueFactory = _ => 15 };
        var spin = new Option<int>("--spin-us") { Description = "Spin this many microseconds before each send time instead of sleeping (more precise, burns a core).", DefaultValueFactory = _ => 0 };

        var target = new Option<string>("--target") { Description = "Base URL of the target (loopback only); several, comma-separated (a cluster's servers), share the requests round robin.", Required = true };
        var profile = new Option<string>("--profile") { Description = "Scenario profile (config/loadtests/*.json).", Required = true };
        var baselineReport = new Option<string?>("--baseline-report") { Description = "A JSON report with a baseline run, whose max rate the ratios use." };
        var run = new Command("run", "Run one scenario profile against a target.") { target, profile, outDir, smoke, maxSeconds, spin, ready, baselineReport };
        run.SetAction((parse, ct) => RunAsync([(parse.GetRequiredValue(profile), parse.GetRequiredValue(target))], parse.GetValue(baselineReport),
            parse.GetRequiredValue(outDir), Options(parse, smoke, maxSeconds, spin, ready, output), output, error, ct));

        var profiles = new Option<string>("--profiles") { Description = "Directory of scenario profiles.", DefaultValueFactory = _ => "config/loadtests" };
        var serverUrl = new Option<string>("--server-url") { Description = "Base URL of the AdCtr server (loopback only); several, comma-separated (a cluster's servers), share the requests round robin.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var baselineUrl = new Option<string>("--baseline-url") { Description = "Base URL of the baseline echo app (loopback only).", DefaultValueFactory = _ => "http://127.0.0.1:5090" };
        var only = new Option<string?>("--scenarios") { Description = "Comma-separated profile names to run (default: all)." };
        var suite = new Command("suite", "Run the baseline and every server profile in one session; rates are also given as a ratio to the baseline.")
            { profiles, serverUrl, baselineUrl, outDir, smoke, maxSeconds, spin, ready, only };
        suite.SetAction((parse, ct) => SuiteAsync(parse.GetRequiredValue(profiles), parse.GetRequiredValue(serverUrl), parse.GetRequiredValue(baselineUrl),
            parse.GetValue(only), parse.GetRequiredValue(outDir), Options(parse, smoke, maxSeconds, spin, ready, output), output, error, ct));

        var memTarget = new Option<string>("--target") { Description = "Base URL of the AdCtr server (loopback only).", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var campaigns = new Option<int>("--campaigns") { Description = "Distinct campaigns to create (1..100000).", DefaultValueFactory = _ => 10_000 };
        var perCampaign = new Option<int>("--examples-per-campaign") { Description = "Examples per campaign (1..10000); 200 gives about 400 campaign coordinates each.", DefaultValueFactory = _ => 200 };
        var batch = new Option<int>("--batch") { Description = "Examples per NDJSON request (1..10000).", DefaultValueFactory = _ => 1000 };
        var settle = new Option<int>("--settle-polls") { Description = "At most this many /metrics readings, 1 s apart, until the RSS settles (1..60).", DefaultValueFactory = _ => 10 };
        var memory = new Command("memory", "Feed examples spread over many campaigns and report the server's RSS and model sizes before and after.")
            { memTarget, campaigns, perCampaign, batch, settle, outDir, ready };
        memory.SetAction((parse, ct) => MemoryAsync(parse.GetRequiredValue(memTarget), new MemoryOptions
        {
            Campaigns = parse.GetValue(campaigns),
            ExamplesPerCampaign = parse.GetValue(perCampaign),
            BatchSize = parse.GetValue(batch),
            SettlePolls = parse.GetValue(settle),
        }, parse.GetRequiredValue(outDir), TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(ready), 0, 600)), output, error, delay, ct));

        return new RootCommand("adctr-load: open-model load tests for the AdCtr server, reported against an HTTP baseline.") { run, suite, memory };
    }

    /// <summary>The <c>memory</c> command; <paramref name="delay"/> replaces the waits between /metrics readings (tests).</summary>
    private static async Task<int> MemoryAsync(string url, MemoryOptions options, string outDir, TimeSpan readyTimeout, TextWriter output, TextWriter error,
        Func<TimeSpan, CancellationToken, Task>? delay, CancellationToken cancellationToken)
    {
        if (!LoopbackGuard.TryValidate(url, out var uri, out var problem))
        {
            error.WriteLine("adctr-load: " + problem);
            return UsageError;
        }

        if (options.Campaigns is < 1 or > 100_000 || options.ExamplesPerCampaign is < 1 or > 10_000 || options.BatchSize is < 1 or > 10_000 || options.SettlePolls is < 1 or > 60)
        {
            error.WriteLine("adctr-load: --campaigns must be in 1..100000, --examples-per-campaign and --batch in 1..10000, --settle-polls in 1..60");
            return UsageError;
        }

        using var transport = new HttpLoadTransport(uri!, 4, TimeSpan.FromSeconds(30));
        output.WriteLine(FormattableString.Invariant($"== memory -> {uri}: {options.Campaigns} campaigns x {options.ExamplesPerCampaign} examples in batches of {options.BatchSize}"));
        try
        {
            await ScenarioRunner.WaitReadyAsync(transport, readyTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine("adctr-load: " + e.Message);
            return 1;
        }

        var report = await new MemoryProbe(transport.ExchangeAsync, options, delay, output).RunAsync(uri!, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(outDir);
        var stem = Path.Combine(outDir, "memory");
        await File.WriteAllTextAsync(stem + ".json", report.ToJson(), cancellationToken).ConfigureAwait(false);
        var markdown = report.ToMarkdown();
        await File.WriteAllTextAsync(stem + ".md", markdown, cancellationToken).ConfigureAwait(false);
        output.WriteLine(markdown);
        output.WriteLine("reports: " + stem + ".md, " + stem + ".json");
        if (report.Error is not null)
        {
            error.WriteLine("adctr-load: memory run failed: " + report.Error);
            return 1;
        }

        return 0;
    }

    private static ScenarioRunOptions Options(ParseResult parse, Option<bool> smoke, Option<double?> maxSeconds, Option<int> spin, Option<double> ready, TextWriter output) => new()
    {
        ReadyTimeout = TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(ready), 0, 600)),
        Smoke = parse.GetValue(smoke),
        MaxSeconds = parse.GetValue(maxSeconds),
        SpinMicros = Math.Clamp(parse.GetValue(spin), 0, 2000),
        Console = output,
    };

    private static Task<int> SuiteAsync(string profileDir, string serverUrl, string baselineUrl, string? only, string outDir, ScenarioRunOptions options,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(profileDir))
        {
            error.WriteLine("adctr-load: no profile directory '" + profileDir + "'");
            return Task.FromResult(UsageError);
        }

        var names = only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var runs = new List<(string Profile, string Target)>();
        var files = Directory.GetFiles(profileDir, "*.json");
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
        {
            LoadProfile p;
            try
            {
                p = LoadProfile.Load(file);
            }
            catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException)
            {
                error.WriteLine("adctr-load: " + e.Message);
                return Task.FromResult(UsageError);
            }

            if (names is not null && Array.IndexOf(names, p.Name) < 0)
            {
                continue;
            }

            // The baseline runs first, so its ceiling is measured before the server warms the machine.
            if (p.Target == "baseline")
            {
                runs.Insert(0, (file, baselineUrl));
            }
            else
            {
                runs.Add((file, serverUrl));
            }
        }

        if (runs.Count == 0)
        {
            error.WriteLine("adctr-load: no profiles selected in '" + profileDir + "'");
            return Task.FromResult(UsageError);
        }

        return RunAsync(runs, null, outDir, options, output, error, cancellationToken, stemName: "loadtest-suite");
    }

    private static async Task<int> RunAsync(List<(string Profile, string Target)> runs, string? baselineReport, string outDir, ScenarioRunOptions options,
        TextWriter output, TextWriter error, CancellationToken cancellationToken, string? stemName = null)
    {
        var plan = new List<(LoadProfile Profile, Uri[] Targets)>();
        foreach (var (file, urls) in runs)
        {
            // Several comma-separated URLs: the servers of a cluster, sharing the requests round robin.
            var targets = new List<Uri>();
            foreach (var url in urls.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).DefaultIfEmpty(urls))
            {
                if (!LoopbackGuard.TryValidate(url, out var uri, out var problem))
                {
                    error.WriteLine("adctr-load: " + problem);
                    return UsageError;
                }

                targets.Add(uri!);
            }

            try
            {
                plan.Add((LoadProfile.Load(file), [.. targets]));
            }
            catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or IOException)
            {
                error.WriteLine("adctr-load: " + e.Message);
                return UsageError;
            }
        }

        double? earlierBaseline = null;
        if (baselineReport is not null)
        {
            try
            {
                earlierBaseline = SuiteReport.FromJson(await File.ReadAllTextAsync(baselineReport, cancellationToken).ConfigureAwait(false)).BaselineMaxRate;
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidDataException)
            {
                error.WriteLine("adctr-load: cannot read the baseline report: " + e.Message);
                return UsageError;
            }
        }

        var report = new SuiteReport
        {
            StartedAt = DateTimeOffset.UtcNow,
            Machine = SuiteReport.MachineDescription(),
            Generator = "adctr-load on the same machine as the target (the generator shares the cores); " +
                (options.SpinMicros > 0 ? options.SpinMicros + " us spin before sends" : "sleep-based scheduler"),
        };
        var failed = false;
        foreach (var (profile, targets) in plan)
        {
            var scenario = await ScenarioRunner.RunAsync(profile, targets, options, cancellationToken).ConfigureAwait(false);
            report.Scenarios.Add(scenario);
            failed |= scenario.Error is not null;
            if (options.Smoke && scenario.Steps.Any(s => s.Errors > 0))
            {
                failed = true;
                error.WriteLine("adctr-load: smoke of " + profile.Name + " had errors: " +
                    string.Join(", ", scenario.Steps.SelectMany(s => s.ErrorsByKind).Select(kv => kv.Key + " " + kv.Value)));
            }
        }

        report.ApplyBaseline(earlierBaseline);
        Directory.CreateDirectory(outDir);
        var stem = Path.Combine(outDir, stemName ?? "loadtest-" + plan[0].Profile.Name);
        await File.WriteAllTextAsync(stem + ".json", report.ToJson(), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(stem + ".md", TableFormatter.Markdown(report), cancellationToken).ConfigureAwait(false);
        output.WriteLine();
        output.WriteLine("reports: " + stem + ".md, " + stem + ".json");
        if (report.BaselineMaxRate is { } b)
        {
            output.WriteLine(FormattableString.Invariant($"baseline max rate: {b:0}/s"));
        }

        return failed ? 1 : 0;
    }
}

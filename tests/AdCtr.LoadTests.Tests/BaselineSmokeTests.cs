using AdCtr.Baseline;
using AdCtr.LoadTests.Cli;
using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Profiles;
using AdCtr.LoadTests.Reports;
using Microsoft.AspNetCore.Builder;

namespace AdCtr.LoadTests.Tests;

/// <summary>Real runs against the echo app on 127.0.0.1 with an ephemeral port. They assert correctness, never speed.</summary>
public sealed class BaselineSmokeTests : IAsyncLifetime
{
    private WebApplication? _app;
    private string _url = "";

    public async Task InitializeAsync()
    {
        _app = BaselineApp.Build(["--urls", "http://127.0.0.1:0"]);
        await _app.StartAsync();
        _url = BaselineApp.BoundAddresses(_app).Single();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public void BoundAddress_EphemeralPort_IsLoopbackWithARealPort()
    {
        var uri = new Uri(_url);
        Assert.Equal("127.0.0.1", uri.Host);
        Assert.NotEqual(0, uri.Port);
    }

    [Fact]
    public async Task SmokeRun_AgainstBaseline_AllRequestsSucceed()
    {
        var profile = new LoadProfile
        {
            Name = "baseline-test",
            Target = "baseline",
            Seed = 3,
            Smoke = new SmokeSpec { Rate = 50, Seconds = 1 },
            Data = new DataSpec { PoolSize = 32 },
            Mix = [new MixEntry { Kind = "echo", Candidates = 2 }],
        };

        var report = await ScenarioRunner.RunAsync(profile, new Uri(_url), new ScenarioRunOptions { Smoke = true }, CancellationToken.None);

        // 50/s for 1 s: exactly 50 requests, all answered 200 (the 2 s request timeout leaves room on a busy machine).
        Assert.Null(report.Error);
        var step = Assert.Single(report.Steps);
        Assert.Equal("smoke", step.Phase);
        Assert.Equal(50, step.Requests);
        Assert.Equal(0, step.Errors);
        Assert.Equal(50, step.Latency.Count);
        Assert.True(step.Passed);
    }

    [Fact]
    public async Task RunCommand_SmokeAgainstBaseline_ExitsZeroAndWritesReports()
    {
        var dir = Path.Combine(Path.GetTempPath(), "adctr-load-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var profilePath = Path.Combine(dir, "echo.json");
            await File.WriteAllTextAsync(profilePath,
                """{ "name": "echo", "target": "baseline", "smoke": { "rate": 40, "seconds": 1 }, "data": { "poolSize": 16 }, "mix": [ { "kind": "echo" } ] }""");
            var output = new StringWriter();
            var error = new StringWriter();

            var code = await LoadCli.Build(output, error).Parse(["run", "--target", _url, "--profile", profilePath, "--out", dir, "--smoke"]).InvokeAsync();

            Assert.True(code == 0, error.ToString());
            var report = SuiteReport.FromJson(await File.ReadAllTextAsync(Path.Combine(dir, "loadtest-echo.json")));
            var scenario = Assert.Single(report.Scenarios);
            Assert.Equal(40, scenario.Steps.Single().Requests);
            Assert.Equal(0, scenario.Steps.Single().Errors);
            Assert.Contains("| echo | baseline |", await File.ReadAllTextAsync(Path.Combine(dir, "loadtest-echo.md")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task RunCommand_SeveralTargets_SharesTheRequestsRoundRobin()
    {
        // Two echo apps standing in for a cluster's servers, each counting the echo requests it answers.
        var apps = new List<WebApplication>();
        var counts = new int[2];
        var dir = Path.Combine(Path.GetTempPath(), "adctr-load-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var app = BaselineApp.Build(["--urls", "http://127.0.0.1:0"]);
                var index = i;
                app.Use(async (context, next) =>
                {
                    if (context.Request.Path == "/echo")
                    {
                        Interlocked.Increment(ref counts[index]);
                    }

                    await next(context);
                });
                await app.StartAsync();
                apps.Add(app);
            }

            var profilePath = Path.Combine(dir, "echo.json");
            await File.WriteAllTextAsync(profilePath,
                """{ "name": "echo", "target": "baseline", "smoke": { "rate": 40, "seconds": 1 }, "data": { "poolSize": 16 }, "mix": [ { "kind": "echo" } ] }""");
            var targets = string.Join(",", apps.Select(a => BaselineApp.BoundAddresses(a).Single()));
            var error = new StringWriter();

            var code = await LoadCli.Build(new StringWriter(), error).Parse(["run", "--target", targets, "--profile", profilePath, "--out", dir, "--smoke"]).InvokeAsync();

            Assert.True(code == 0, error.ToString());
            Assert.Equal(new[] { 20, 20 }, counts);
            var scenario = Assert.Single(SuiteReport.FromJson(await File.ReadAllTextAsync(Path.Combine(dir, "loadtest-echo.json"))).Scenarios);
            Assert.Equal(0, scenario.Steps.Single().Errors);
            Assert.Equal(targets.Replace(",", "/,", StringComparison.Ordinal) + "/", scenario.TargetUrl);
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task RunCommand_OneOfSeveralTargetsNotLoopback_IsAUsageError()
    {
        var error = new StringWriter();
        var code = await LoadCli.Build(new StringWriter(), error).Parse(["run", "--target", _url + ",http://198.51.100.1:80", "--profile", "config/none.json", "--smoke"]).InvokeAsync();
        Assert.Equal(2, code);
        Assert.Contains("198.51.100.1", error.ToString(), StringComparison.Ordinal);
    }
}

using System.Globalization;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Tests.Evaluation;

public sealed class TuneCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("adctr-sim-tune-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Generate(int events)
    {
        var path = Path.Combine(_dir, "stream.ndjson");
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "stationary", "--events", events.ToString(CultureInfo.InvariantCulture), "--out", path, "--seed", "3").Code);
        return path;
    }

    [Fact]
    public void Tuner_SmallStream_HalvesTheTrialsAndItsBestScoreIsEvalsFigureWithTheBestSettings()
    {
        var path = Generate(4000);
        var baseline = ModelConfig.Load(null, ["AdCtr:Model:Bits=18"]);
        var spec = SpecResolver.Resolve(null, LogFormat.AdCtrJson, baseline.Bits);
        var result = Tuner.Run(path, LogFormat.AdCtrJson, new TuneSettings { Spec = spec, Baseline = baseline, Budget = 9, Seed = 7 });

        // 9 configurations on 4,000 / 9 = 444 rows, the best 3 on 4,000 / 3 = 1,333, the best 1 on all 4,000.
        Assert.Equal(13, result.Trials.Count);
        Assert.Equal([444L, 1333L, 4000L], result.Trials.Select(t => t.Rows).Distinct());
        Assert.Equal([9, 3, 1], result.Trials.GroupBy(t => t.Rung).Select(g => g.Count()));
        Assert.Contains(result.Trials, t => t.Id == 0 && t.Global == baseline.Global && t.Campaign == baseline.Campaign);
        var survivors = result.Trials.Where(t => t.Rung == 0).OrderBy(t => t.LogLoss).ThenBy(t => t.Id).Take(3).Select(t => t.Id).Order();
        Assert.Equal(survivors, result.Trials.Where(t => t.Rung == 1).Select(t => t.Id).Order());

        // The last rung learns every row in order as eval does, with the same sums: the same double.
        var eval = OfflineEvaluator.Run(path, LogFormat.AdCtrJson, new EvalSettings
        {
            Spec = spec,
            Holdout = 0,
            Global = result.Best.Global,
            Campaign = result.Best.Campaign,
            Threads = 1,
        });
        Assert.Equal(eval.Progressive!.Value.LogLoss, result.Best.LogLoss);
    }

    [Fact]
    public void Tune_FixedSeed_PrintsTheSameTrialsTwiceAndWritesASnippetEvalReads()
    {
        var path = Generate(3000);
        var snippet = Path.Combine(_dir, "best.json");
        string[] args = ["tune", "--data", path, "--format", "ndjson", "--budget", "5", "--seed", "11", "--set", "AdCtr:Model:Bits=18", "--out", snippet];
        var first = AdCtrSim.Run(args);
        Assert.True(first.Code == 0, first.Stderr);
        var second = AdCtrSim.Run(args);
        Assert.Equal(first.Stdout, second.Stdout);

        // 5 configurations, then 2, then 1: three rungs' rows in the table.
        Assert.Equal(8, first.Stdout.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| rung", StringComparison.Ordinal)));
        var best = first.Stdout.Split('\n').Single(l => l.StartsWith("Best: trial ", StringComparison.Ordinal));
        var bestLogLoss = best.Split("log loss ")[1].Split(' ')[0];

        var eval = AdCtrSim.Run("eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--config", snippet, "--set", "AdCtr:Model:Bits=18");
        Assert.True(eval.Code == 0, eval.Stderr);
        var logLoss = System.Text.Json.JsonDocument.Parse(eval.Stdout).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble();
        Assert.Equal(bestLogLoss, logLoss.ToString("F6", CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("--budget", "0", "adctr-sim: --budget must be in 1..10000")]
    [InlineData("--threads", "0", "adctr-sim: --threads must be in 1..64")]
    [InlineData("--set", "AdCtr:Model:Campaign:L2=-3", "adctr-sim: AdCtr:Model:Campaign:L2: L2 must be finite and >= 0, got -3")]
    [InlineData("--bits", "40", "adctr-sim: --bits must be in 18..28, got 40")]
    public void Tune_BadArgument_IsAOneLineUsageError(string option, string value, string message)
    {
        var path = Generate(100);
        var (code, stdout, stderr) = AdCtrSim.Run("tune", "--data", path, "--format", "ndjson", option, value);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Tune_MissingFile_IsAOneLineUsageError()
    {
        var (code, _, stderr) = AdCtrSim.Run("tune", "--data", Path.Combine(_dir, "missing.ndjson"), "--format", "ndjson");
        Assert.Equal(2, code);
        Assert.StartsWith("adctr-sim: cannot read '", stderr, StringComparison.Ordinal);
    }
}

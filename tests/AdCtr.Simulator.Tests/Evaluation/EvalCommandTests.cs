using System.Text.Json;

namespace AdCtr.Simulator.Tests.Evaluation;

public sealed class EvalCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("adctr-sim-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Generate(int events, string format = "ndjson")
    {
        var path = Path.Combine(_dir, "log." + format);
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "stationary", "--events", events.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", path, "--format", format, "--seed", "3").Code);
        return path;
    }

    [Fact]
    public void Eval_OnlineJson_PrintsOneObjectWithExactCounts()
    {
        var path = Generate(5000);
        var (code, stdout, stderr) = AdCtrSim.Run("eval", "--data", path, "--format", "ndjson", "--json", "--bits", "18");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        var root = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal(5000, root.GetProperty("examples").GetInt64());
        Assert.Equal(0, root.GetProperty("malformedLines").GetInt64());
        // The last 20% of 5,000 lines: lines 4,001..5,000.
        Assert.Equal(1000, root.GetProperty("holdout").GetProperty("examples").GetInt64());
        var progressive = root.GetProperty("progressive");
        foreach (var name in new[] { "logLoss", "normalizedEntropy", "auc", "calibrationRatio" })
        {
            Assert.True(progressive.GetProperty(name).GetDouble() > 0, name);
        }

        Assert.True(root.GetProperty("examplesPerSecond").GetDouble() > 0);
    }

    [Fact]
    public void Eval_Batch_HasNullProgressiveAndScoresTheHoldout()
    {
        var path = Generate(4000, "criteo");
        var (code, stdout, _) = AdCtrSim.Run("eval", "--data", path, "--format", "criteo", "--model", "batch", "--holdout", "0.25", "--json", "--bits", "18");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("progressive").ValueKind);
        Assert.Equal(1000, root.GetProperty("holdout").GetProperty("examples").GetInt64());
        Assert.InRange(root.GetProperty("holdout").GetProperty("logLoss").GetDouble(), 0.01, 0.693);
    }

    [Fact]
    public void Eval_MalformedLines_AreCountedOrFailInStrictMode()
    {
        var path = Path.Combine(_dir, "damaged.tsv");
        var good = "1\t" + string.Join('\t', Enumerable.Repeat("3", 13)) + "\t" + string.Join('\t', Enumerable.Repeat("a1b2c3d4", 26));
        File.WriteAllLines(path, [good, "2\tbad", good, "x" + good[1..], good]);
        var (code, stdout, _) = AdCtrSim.Run("eval", "--data", path, "--format", "criteo", "--json", "--bits", "18");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(3, root.GetProperty("examples").GetInt64());
        Assert.Equal(2, root.GetProperty("malformedLines").GetInt64());

        var (strictCode, _, stderr) = AdCtrSim.Run("eval", "--data", path, "--format", "criteo", "--strict", "--bits", "18");
        Assert.Equal(1, strictCode);
        Assert.StartsWith("adctr-sim: " + path + ": line 2: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_CsvLogWithSpec_TrainsEachMlNetModelAndCountsBadRows()
    {
        // A CSV log converted from the simulator's NDJSON: label true/false, "yyyy-MM-dd HH:mm:ss" times, a quoted
        // column the spec ignores, and one row with a bad label.
        var ndjson = Generate(3000);
        var csv = Path.Combine(_dir, "log.csv");
        using (var w = new StreamWriter(csv))
        {
            w.WriteLine("time,clicked,campaign,category,age,device,note");
            var line = 1;
            foreach (var json in File.ReadLines(ndjson))
            {
                var e = JsonDocument.Parse(json).RootElement;
                var c = e.GetProperty("context");
                var time = e.GetProperty("timestamp").GetString()![..19].Replace('T', ' ');
                var label = ++line == 10 ? "maybe" : e.GetProperty("label").GetInt32() == 1 ? "true" : "false";
                w.WriteLine(time + "," + label + "," + e.GetProperty("campaignId").GetString() + "," + e.GetProperty("features").GetProperty("ad_category").GetString() + "," +
                    c.GetProperty("user_age").GetString() + "," + c.GetProperty("device").GetString() + ",\"a, \"\"quoted\"\" note\"");
            }
        }

        var spec = Path.Combine(_dir, "spec.json");
        File.WriteAllText(spec, """
            { "name": "t", "bits": 18, "label": "clicked", "timestamp": "time", "campaignField": "campaign",
              "fields": [ { "name": "campaign" }, { "name": "category" }, { "name": "age", "models": "both" },
                          { "name": "device", "models": "both" }, { "name": "hour", "kind": "hourOfDay" } ],
              "crosses": [ { "fields": [ "age", "category" ] } ] }
            """);
        foreach (var model in new[] { "online", "mlnet-lr", "mlnet-ffm" })
        {
            var (code, stdout, stderr) = AdCtrSim.Run("eval", "--data", csv, "--format", "csv", "--spec", spec, "--model", model, "--json");
            Assert.True(code == 0, model + ": " + stderr);
            var root = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal(1, root.GetProperty("malformedLines").GetInt64());
            Assert.InRange(root.GetProperty("holdout").GetProperty("logLoss").GetDouble(), 0.01, 0.693);
        }

        var (strict, _, error) = AdCtrSim.Run("eval", "--data", csv, "--format", "csv", "--spec", spec, "--strict");
        Assert.Equal(1, strict);
        Assert.StartsWith("adctr-sim: " + csv + ": line 10: bad label 'maybe'", error, StringComparison.Ordinal);

        var (noSpec, _, _) = AdCtrSim.Run("eval", "--data", csv, "--format", "csv");
        Assert.Equal(2, noSpec);
    }

    [Theory]
    [InlineData("--data", "/nonexistent/file.tsv", "--format", "criteo")]
    [InlineData("--data", "x", "--format", "parquet")]
    [InlineData("--data", "x", "--format", "criteo", "--holdout", "1.5")]
    [InlineData("--data", "x", "--format", "criteo", "--bits", "40")]
    [InlineData("--format", "criteo")]
    public void Eval_BadArguments_ExitTwoWithOneLine(params string[] args)
    {
        var (code, _, stderr) = AdCtrSim.Run(["eval", .. args]);
        Assert.Equal(2, code);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("adctr-sim: ", stderr, StringComparison.Ordinal);
    }
}

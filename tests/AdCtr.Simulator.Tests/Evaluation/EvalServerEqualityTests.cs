using System.Globalization;
using System.Text.Json;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Readers;
using AdCtr.Server.Hosting;
using AdCtr.Server.Tests.Support;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Tests.Evaluation;

/// <summary>
/// One source of defaults: <c>adctr-sim eval</c> reads the model hyper-parameters from the server's own
/// configuration (config/appsettings.json, AdCtr:Model), so its progressive log loss on a stream equals the server's
/// after being posted the same stream. And one way of learning a batch (issue 15): the server learns a posted batch's
/// rows grouped by campaign, one after another, and <c>eval --batch N</c> learns each N rows the same way, so a stream
/// posted in batches of N and the same stream evaluated with <c>--batch N</c> give the same model.
/// </summary>
public sealed class EvalServerEqualityTests : IDisposable
{
    private const int Events = 1500;

    private readonly string _dir = Directory.CreateTempSubdirectory("adctr-sim-equality-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Generate()
    {
        var path = Path.Combine(_dir, "stream.ndjson");
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "drift", "--events", Events.ToString(CultureInfo.InvariantCulture), "--out", path, "--seed", "5").Code);
        return path;
    }

    private static Task<double> ServerLogLossAsync(string path, params string[] settings) => ServerLogLossAsync(path, 1, settings);

    /// <summary>Posts the stream in batches of <paramref name="batch"/> lines, one request at a time.</summary>
    private static async Task<double> ServerLogLossAsync(string path, int batch, params string[] settings)
    {
        await using var server = await LoopbackServer.StartAsync(settings);
        foreach (var chunk in (await File.ReadAllLinesAsync(path)).Chunk(batch))
        {
            using var response = await server.PostNdjsonAsync("/v1/examples", string.Join('\n', chunk));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var stats = server.Engine.GlobalStatistics();
        Assert.Equal(Events, stats.Examples);
        return stats.LogLoss;
    }

    // The same per-example losses, summed per campaign and then in total on the server and in one running sum in
    // eval: the two sums differ by rounding only, at most about n * 2^-52 relative for n = 1,500 additions (3e-13);
    // 1e-11 leaves room for that and nothing else (a different hyper-parameter moves the 4th digit).
    private static void AssertSameSum(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-11 * expected, "server " + expected.ToString("R", CultureInfo.InvariantCulture) + " vs eval " + actual.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>Eval's settings as the loopback server learns: 18 hash bits and the simulator's spec, everything else from config/appsettings.json.</summary>
    private static EvalSettings DefaultSettings(int threads, int batch)
    {
        var model = ModelConfig.Load(null, ["AdCtr:Model:Bits=18"]);
        return new EvalSettings
        {
            Spec = SpecResolver.Resolve(null, LogFormat.AdCtrJson, model.Bits),
            Holdout = 0,
            Global = model.Global,
            Campaign = model.Campaign,
            CampaignAdmission = model.CampaignAdmission,
            Threads = threads,
            Batch = batch,
        };
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Eval_DefaultConfiguration_ProgressiveLogLossEqualsTheServers(int threads)
    {
        var path = Generate();
        var serverLogLoss = await ServerLogLossAsync(path);

        var result = OfflineEvaluator.Run(path, LogFormat.AdCtrJson, DefaultSettings(threads, batch: 1));
        AssertSameSum(serverLogLoss, result.Progressive!.Value.LogLoss);

        // The command line, with no model flag at all, prints the same figure to its 6 decimals (rounding: 5e-7).
        var (code, stdout, stderr) = AdCtrSim.Run("eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--threads", threads.ToString(CultureInfo.InvariantCulture), "--set", "AdCtr:Model:Bits=18");
        Assert.True(code == 0, stderr);
        var printed = JsonDocument.Parse(stdout).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble();
        Assert.True(Math.Abs(printed - serverLogLoss) <= 5e-7 + 1e-12, printed + " vs " + serverLogLoss);
    }

    [Theory]
    [InlineData(100, 1)]
    [InlineData(250, 2)]
    public async Task EvalBatch_StreamPostedInBatches_ProgressiveLogLossEqualsTheServers(int batch, int threads)
    {
        var path = Generate();
        var serverLogLoss = await ServerLogLossAsync(path, batch);

        // In process, to rounding of the two sums (1e-11): any difference in what was learned shows far above that.
        AssertSameSum(serverLogLoss, OfflineEvaluator.Run(path, LogFormat.AdCtrJson, DefaultSettings(threads, batch)).Progressive!.Value.LogLoss);

        var (code, stdout, stderr) = AdCtrSim.Run(
            "eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--threads", threads.ToString(CultureInfo.InvariantCulture),
            "--batch", batch.ToString(CultureInfo.InvariantCulture), "--set", "AdCtr:Model:Bits=18");
        Assert.True(code == 0, stderr);
        var printed = JsonDocument.Parse(stdout).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble();
        Assert.True(Math.Abs(printed - serverLogLoss) <= 5e-7 + 1e-12, printed + " vs " + serverLogLoss);

        // And the order matters at this precision: eval learning row after row gives another figure on this stream.
        var (_, rowByRow, _) = AdCtrSim.Run("eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--set", "AdCtr:Model:Bits=18");
        var sequential = JsonDocument.Parse(rowByRow).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble();
        Assert.True(Math.Abs(sequential - serverLogLoss) > 1e-6, "row after row " + sequential + " vs the server's " + serverLogLoss);
    }

    [Fact]
    public async Task Eval_SetKeysAsTheServerSpellsThem_ProgressiveLogLossEqualsTheServersWithTheSameArguments()
    {
        var path = Generate();
        string[] sets =
        [
            "AdCtr:Model:Global:Alpha=0.11", "AdCtr:Model:Global:L1=0.2", "AdCtr:Model:Global:L2=3",
            "AdCtr:Model:Campaign:Alpha=0.02", "AdCtr:Model:Campaign:L1=0.1", "AdCtr:Model:Campaign:L2=7",
        ];
        var serverArgs = new string[sets.Length];
        var evalArgs = new List<string> { "eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--set", "AdCtr:Model:Bits=18" };
        for (var i = 0; i < sets.Length; i++)
        {
            serverArgs[i] = "--" + sets[i];
            evalArgs.Add("--set");
            evalArgs.Add(sets[i]);
        }

        var serverLogLoss = await ServerLogLossAsync(path, serverArgs);
        var (code, stdout, stderr) = AdCtrSim.Run([.. evalArgs]);
        Assert.True(code == 0, stderr);
        var printed = JsonDocument.Parse(stdout).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble();
        Assert.True(Math.Abs(printed - serverLogLoss) <= 5e-7 + 1e-12, printed + " vs " + serverLogLoss);

        // And the settings matter: the shipped defaults give another figure on this stream.
        var (_, defaults, _) = AdCtrSim.Run("eval", "--data", path, "--format", "ndjson", "--json", "--holdout", "0", "--set", "AdCtr:Model:Bits=18");
        Assert.NotEqual(printed, JsonDocument.Parse(defaults).RootElement.GetProperty("progressive").GetProperty("logLoss").GetDouble());
    }

    [Fact]
    public void ModelConfig_ReadsTheServersFileAndAppliesSets()
    {
        var config = Path.Combine(_dir, "appsettings.json");
        File.WriteAllText(config, """{ "AdCtr": { "Model": { "Global": { "Alpha": 0.07, "L1": 0.3 }, "Campaign": { "L2": 9 }, "CampaignAdmission": 0.5, "SpecPath": "x.json" } } }""");
        var settings = ModelConfig.Load(config, ["AdCtr:Model:Global:L2=4", "adctr:model:campaign:alpha=0.2"]);
        Assert.Equal(new FtrlParameters(0.07, 1.0, 0.3, 4), settings.Global);
        // A value the file and the sets leave out is the built-in default (the server's ModelOptions).
        Assert.Equal(new FtrlParameters(0.2, 1.0, FtrlParameters.CampaignDefault.L1, 9), settings.Campaign);
        Assert.Equal(0.5, settings.CampaignAdmission);
        Assert.Null(settings.Bits);
    }

    [Theory]
    [InlineData("AdCtr:Model:Global:Gamma=1", "--set: unknown model setting 'AdCtr:Model:Global:Gamma'")]
    [InlineData("AdCtr:Model:Global:Alpha=-1", "AdCtr:Model:Global:Alpha: alpha must be finite and > 0, got -1")]
    [InlineData("AdCtr:Model:Bits=19.5", "AdCtr:Model:Bits must be an integer in 18..28, got 19.5")]
    [InlineData("AdCtr:Model:Global:Alpha", "--set expects KEY=NUMBER")]
    public void Eval_BadSet_IsAOneLineUsageError(string set, string message)
    {
        var (code, stdout, stderr) = AdCtrSim.Run("eval", "--data", "unused.ndjson", "--format", "ndjson", "--set", set);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("adctr-sim: " + message, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("100001")]
    public void EvalBatch_OutOfRange_IsAUsageError(string batch)
    {
        var (code, stdout, stderr) = AdCtrSim.Run("eval", "--data", "unused.ndjson", "--format", "ndjson", "--batch", batch);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("adctr-sim: --batch must be in 1..100000", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_MissingConfig_IsAOneLineUsageError()
    {
        var (code, _, stderr) = AdCtrSim.Run("eval", "--data", "unused.ndjson", "--format", "ndjson", "--config", Path.Combine(_dir, "missing.json"));
        Assert.Equal(2, code);
        Assert.StartsWith("adctr-sim: --config: no such file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelConfig_Default_IsTheShippedServerConfiguration()
    {
        // The shipped file and the server's built-in ModelOptions agree, so a server started without the file, eval and
        // compare all learn with the same values.
        var shipped = ModelConfig.Load(null, null);
        var options = new ModelOptions();
        Assert.Equal(options.Global.ToParameters(), shipped.Global);
        Assert.Equal(options.Campaign.ToParameters(), shipped.Campaign);
        Assert.Equal(options.CampaignAdmission, shipped.CampaignAdmission);
    }
}

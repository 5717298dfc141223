using System.IO.Compression;
using System.Text.Json;

namespace AdCtr.Simulator.Tests;

public sealed class GenerateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("adctr-sim-gen-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Generate_Ndjson_WritesExactlyNLinesAndReportsThem()
    {
        var path = Path.Combine(_dir, "out.ndjson");
        var (code, stdout, stderr) = AdCtrSim.Run("generate", "--scenario", "stationary", "--events", "1234", "--out", path, "--seed", "5");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("examples=1234 ", stdout, StringComparison.Ordinal);
        var lines = File.ReadAllLines(path);
        Assert.Equal(1234, lines.Length);
        using var doc = JsonDocument.Parse(lines[^1]);
        Assert.True(doc.RootElement.TryGetProperty("trueCtr", out _));
    }

    [Fact]
    public void Generate_SameSeedTwice_WritesIdenticalFiles()
    {
        var a = Path.Combine(_dir, "a.ndjson");
        var b = Path.Combine(_dir, "b.ndjson");
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "drift", "--events", "3000", "--out", a, "--seed", "11").Code);
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "drift", "--events", "3000", "--out", b, "--seed", "11").Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void Generate_UnknownScenario_ExitsTwoWithOneLineListingScenarios()
    {
        var (code, stdout, stderr) = AdCtrSim.Run("generate", "--scenario", "nope", "--events", "10", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("adctr-sim: unknown scenario 'nope'; available: ", lines[0], StringComparison.Ordinal);
        Assert.Contains("stationary", lines[0], StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "x")));
    }

    [Theory]
    [InlineData("generate", "--scenario", "stationary", "--events", "0", "--out", "x")]
    [InlineData("generate", "--scenario", "stationary", "--events", "ten", "--out", "x")]
    [InlineData("generate", "--scenario", "stationary", "--events", "10")]
    [InlineData("generate", "--scenario", "stationary", "--events", "10", "--out", "x", "--format", "csv")]
    [InlineData("generate", "--bogus")]
    [InlineData("frobnicate")]
    public void Generate_BadArguments_ExitTwoWithOneLine(params string[] args)
    {
        var (code, stdout, stderr) = AdCtrSim.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("adctr-sim: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_Criteo_WritesFortyColumnsPerLine()
    {
        var path = Path.Combine(_dir, "out.tsv");
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "cold-start", "--events", "500", "--out", path, "--format", "criteo").Code);
        var lines = File.ReadAllLines(path);
        Assert.Equal(500, lines.Length);
        Assert.All(lines, line => Assert.Equal(40, line.Split('\t').Length));
    }

    [Fact]
    public void Generate_GzSuffix_WritesGzipOfTheSameLines()
    {
        var plain = Path.Combine(_dir, "out.ndjson");
        var gz = Path.Combine(_dir, "out.ndjson.gz");
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "imbalanced", "--events", "700", "--out", plain).Code);
        Assert.Equal(0, AdCtrSim.Run("generate", "--scenario", "imbalanced", "--events", "700", "--out", gz).Code);
        using var file = File.OpenRead(gz);
        using var unzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(unzip);
        Assert.Equal(File.ReadAllText(plain), reader.ReadToEnd());
    }

    [Fact]
    public void Generate_ScenarioPath_IsAccepted()
    {
        var scenario = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(scenario, """{ "campaigns": 3, "users": 10, "sites": 2, "candidatesPerRequest": 2 }""");
        var path = Path.Combine(_dir, "tiny.ndjson");
        var (code, stdout, _) = AdCtrSim.Run("generate", "--scenario", scenario, "--events", "20", "--out", path);
        Assert.Equal(0, code);
        Assert.Contains("scenario=tiny ", stdout, StringComparison.Ordinal);
        Assert.Equal(20, File.ReadAllLines(path).Length);
    }

    [Fact]
    public void Generate_InvalidScenarioFile_ExitsTwoNamingTheKey()
    {
        var scenario = Path.Combine(_dir, "broken.json");
        File.WriteAllText(scenario, """{ "negativeDownsampling": 0 }""");
        var (code, _, stderr) = AdCtrSim.Run("generate", "--scenario", scenario, "--events", "20", "--out", Path.Combine(_dir, "b.ndjson"));
        Assert.Equal(2, code);
        Assert.Equal("adctr-sim: scenario 'broken': negativeDownsampling must be in (0, 1] (got 0)" + Environment.NewLine, stderr);
    }
}

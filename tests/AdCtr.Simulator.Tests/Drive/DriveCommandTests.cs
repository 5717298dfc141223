using System.Text.Json;
using AdCtr.Simulator.Commands;
using AdCtr.Simulator.Drive;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Simulator.Tests.Drive;

public sealed class DriveCommandTests
{
    [Theory]
    [InlineData("http://10.0.0.1:5080")]
    [InlineData("http://example.com")]
    [InlineData("http://192.168.1.5:5080/")]
    public void Drive_NonLoopbackServer_IsRefusedWithExitTwo(string url)
    {
        var (code, stdout, stderr) = AdCtrSim.Run("drive", "--server", url, "--scenario", "stationary", "--duration", "1s");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("adctr-sim: --server ", stderr, StringComparison.Ordinal);
        Assert.Contains("not a loopback address", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://127.1.2.3", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://10.0.0.1", false)]
    [InlineData("ftp://127.0.0.1", false)]
    [InlineData("not a url", false)]
    public void CheckServer_Hosts_LoopbackOnly(string url, bool accepted)
    {
        Assert.Equal(accepted, DriveCommand.CheckServer(url, allowRemote: false, out _) is not null);
    }

    [Fact]
    public void CheckServer_RemoteWithAllowRemote_IsAcceptedWithTrailingSlash()
    {
        Assert.Equal("http://10.0.0.1:5080/api/", DriveCommand.CheckServer("http://10.0.0.1:5080/api", allowRemote: true, out _)!.AbsoluteUri);
    }

    [Theory]
    [InlineData("30s", 30.0)]
    [InlineData("2m", 120.0)]
    [InlineData("1h", 3600.0)]
    [InlineData("500ms", 0.5)]
    [InlineData("1.5", 1.5)]
    [InlineData("00:01:30", 90.0)]
    public void TryParseDuration_Forms_GiveSeconds(string text, double seconds)
    {
        Assert.True(DriveCommand.TryParseDuration(text, out var value));
        Assert.Equal(seconds, value.TotalSeconds, 9);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0s")]
    [InlineData("-5s")]
    [InlineData("soon")]
    [InlineData("5d")]
    public void TryParseDuration_Bad_IsFalse(string text)
    {
        Assert.False(DriveCommand.TryParseDuration(text, out _));
    }

    [Theory]
    [InlineData("--duration", "soon")]
    [InlineData("--rate", "-1")]
    [InlineData("--max-requests", "0")]
    [InlineData("--max-in-flight", "0")]
    [InlineData("--scenario", "no-such-scenario")]
    [InlineData("--rate", "fast")]
    public void Drive_BadArgument_ExitsTwoWithOneLine(string option, string value)
    {
        var args = new Dictionary<string, string>
        {
            ["--server"] = "http://127.0.0.1:9",
            ["--scenario"] = "stationary",
            ["--duration"] = "1s",
            [option] = value,
        };
        var (code, stdout, stderr) = AdCtrSim.Run(["drive", .. args.SelectMany(a => new[] { a.Key, a.Value })]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("adctr-sim: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Drive_MissingServer_ExitsTwo()
    {
        var (code, _, stderr) = AdCtrSim.Run("drive", "--scenario", "stationary", "--duration", "1s");
        Assert.Equal(2, code);
        Assert.Contains("--server", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drive_JsonAgainstLoopbackServer_PrintsExactlyOneJsonObject()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Joiner:Policy=fake-negative");
        var (code, stdout, stderr) = await Task.Run(() => AdCtrSim.Run(
            "drive", "--server", server.Address.AbsoluteUri, "--scenario", "stationary", "--duration", "5m",
            "--rate", "0", "--max-requests", "120", "--max-in-flight", "2", "--seed", "4", "--json"));
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        var lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var root = doc.RootElement;
        Assert.Equal(120, root.GetProperty("sent").GetInt64());
        Assert.Equal(120, root.GetProperty("served").GetInt64());
        Assert.Equal(120, root.GetProperty("impressions").GetInt64());
        var events = root.GetProperty("events");
        Assert.Equal(120 + events.GetProperty("clicksSent").GetInt64(), events.GetProperty("accepted").GetInt64());
    }

    [Fact]
    public async Task Drive_WaitPolicyServerShorterThanWindow_WarnsOnStderrAndStillRuns()
    {
        // The server's default joiner: 'wait' with a 15 min window, longer than the 5 min drive.
        await using var server = await LoopbackServer.StartAsync();
        var (code, stdout, stderr) = await Task.Run(() => AdCtrSim.Run(
            "drive", "--server", server.Address.AbsoluteUri, "--scenario", "stationary", "--duration", "5m",
            "--rate", "0", "--max-requests", "20", "--max-in-flight", "2", "--json"));
        Assert.True(code == 0, stderr);
        var warning = Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("adctr-sim: warning: the server's joiner policy is 'wait' with a 15 min window", warning);
        Assert.Equal(20, JsonDocument.Parse(stdout).RootElement.GetProperty("served").GetInt64());
    }

    [Theory]
    [InlineData(true, "wait", 900, 300, true)]
    [InlineData(true, "wait", 60, 300, false)]
    [InlineData(true, "wait", 300, 300, false)]
    [InlineData(true, "fake-negative", 900, 300, false)]
    [InlineData(false, "fake-negative", 900, 300, true)]
    public void JoinerWarning_PolicyWindowAndDuration_WarnsOnlyWhenFiguresMislead(bool enabled, string policy, int windowSeconds, int durationSeconds, bool warns)
    {
        var joiner = new DriveCommand.ServerJoiner(enabled, policy, TimeSpan.FromSeconds(windowSeconds));
        var settings = new DriveSettings { Duration = TimeSpan.FromSeconds(durationSeconds) };
        Assert.Equal(warns, DriveCommand.JoinerWarning(joiner, settings) is not null);
    }
}

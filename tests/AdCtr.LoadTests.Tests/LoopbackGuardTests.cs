using AdCtr.LoadTests.Cli;
using AdCtr.LoadTests.Http;

namespace AdCtr.LoadTests.Tests;

public class LoopbackGuardTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5080")]
    [InlineData("http://127.42.0.9:80/")]
    [InlineData("http://localhost:5080")]
    [InlineData("https://LOCALHOST")]
    [InlineData("http://[::1]:5080")]
    [InlineData("http://[::ffff:127.0.0.1]:5080")]
    public void TryValidate_LoopbackTarget_Accepts(string url)
    {
        Assert.True(LoopbackGuard.TryValidate(url, out var uri, out var error), error);
        Assert.NotNull(uri);
    }

    [Theory]
    [InlineData("http://10.0.0.1:5080")]
    [InlineData("http://192.168.1.20")]
    [InlineData("http://0.0.0.0:5080")]
    [InlineData("http://example.com")]
    [InlineData("http://localhost.example.com")]
    [InlineData("http://[::2]:5080")]
    [InlineData("http://128.0.0.1")]
    [InlineData("ftp://127.0.0.1")]
    [InlineData("127.0.0.1:5080")]
    public void TryValidate_NonLoopbackOrBadTarget_Refuses(string url)
    {
        Assert.False(LoopbackGuard.TryValidate(url, out var uri, out var error));
        Assert.Null(uri);
        Assert.NotEmpty(error);
    }

    [Fact]
    public async Task RunCommand_NonLoopbackTarget_ExitsWith2AndSaysWhy()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var outDir = Path.Combine(Path.GetTempPath(), "adctr-load-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var code = await LoadCli.Build(output, error)
                .Parse(["run", "--target", "http://203.0.113.7:5080", "--profile", "unused.json", "--out", outDir]).InvokeAsync();

            Assert.Equal(LoadCli.UsageError, code);
            Assert.Contains("only targets loopback", error.ToString(), StringComparison.Ordinal);
            Assert.False(Directory.Exists(outDir));
        }
        finally
        {
            if (Directory.Exists(outDir))
            {
                Directory.Delete(outDir, recursive: true);
            }
        }
    }

    [Fact]
    public void HttpLoadTransport_NonLoopbackBaseUri_Throws()
    {
        Assert.Throws<ArgumentException>(() => new HttpLoadTransport(new Uri("http://198.51.100.1/"), 4, TimeSpan.FromSeconds(1)));
    }
}

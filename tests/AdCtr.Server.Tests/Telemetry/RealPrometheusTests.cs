using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Telemetry;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c> package) on loopback scrapes a running AdCtr server every second;
/// the examples the test posts must show in PromQL answers of its HTTP API.
/// </summary>
public sealed class RealPrometheusTests
{
    private const string PrometheusBinary = "/usr/bin/prometheus";

    /// <summary>Bound on the wait for the first scrapes that show the examples: with a 1 s interval they take ~2 s.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Prometheus_ScrapingTheServer_SeesThePostedExamples()
    {
        Assert.True(File.Exists(PrometheusBinary), "Prometheus not found at " + PrometheusBinary + ": install it: apt-get install prometheus");
        await using var server = await LoopbackServer.StartAsync();
        var directory = Directory.CreateTempSubdirectory("adctr-prometheus-").FullName;
        var port = FreePort();
        File.WriteAllText(Path.Combine(directory, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: adctr
                static_configs:
                  - targets: ["{server.Address.Authority}"]
            """);
        var info = new ProcessStartInfo(PrometheusBinary,
        [
            "--config.file=" + Path.Combine(directory, "prometheus.yml"),
            "--storage.tsdb.path=" + Path.Combine(directory, "data"),
            "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        var log = new StringBuilder();
        using var prometheus = Process.Start(info)!;
        prometheus.OutputDataReceived += (_, e) => Append(log, e.Data);
        prometheus.ErrorDataReceived += (_, e) => Append(log, e.Data);
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            const int Examples = 37;
            var body = string.Join('\n', Enumerable.Range(0, Examples).Select(i =>
                "{\"campaignId\":\"c" + (i % 3) + "\",\"adId\":\"a" + i + "\",\"label\":" + (i % 4 == 0 ? 1 : 0) + ",\"context\":{\"user_age\":\"25-34\",\"device\":\"ios\"}}"));
            using (var posted = await server.PostNdjsonAsync("/v1/examples", body))
            {
                Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            }

            using var client = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture)), Timeout = TimeSpan.FromSeconds(5) };
            var stopwatch = Stopwatch.StartNew();
            string? last = null;
            while (true)
            {
                Assert.False(prometheus.HasExited, "prometheus exited:\n" + log);
                last = await QueryAsync(client, "adctr_examples_learned_total{job=\"adctr\"}");
                if (last == Examples.ToString(CultureInfo.InvariantCulture))
                {
                    break;
                }

                Assert.True(stopwatch.Elapsed < Deadline, "after " + Deadline.TotalSeconds + " s Prometheus answered " + (last ?? "no sample") + " for adctr_examples_learned_total, expected " + Examples + "\n" + log);
                await Task.Delay(250);
            }

            // The same scrapes carry the rest: the target is up, and the ingestion batch was counted as accepted.
            Assert.Equal("1", await QueryAsync(client, "up{job=\"adctr\"}"));
            Assert.Equal("1", await QueryAsync(client, "adctr_ingestion_batches_total{endpoint=\"examples\",result=\"accepted\"}"));
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await prometheus.WaitForExitAsync(exit.Token);
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The value of the single series an instant query returns, or null while it returns none.</summary>
    private static async Task<string?> QueryAsync(HttpClient client, string query)
    {
        string text;
        try
        {
            text = await client.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }

        var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        Assert.True(result.GetArrayLength() <= 1, text);
        return result.GetArrayLength() == 0 ? null : result[0].GetProperty("value")[1].GetString();
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }
}

using System.Text;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

/// <summary>Replays every request of the committed src/AdCtr.Server/AdCtr.Server.http against the real server.</summary>
public sealed class HttpFileTests
{
    [Fact]
    public async Task HttpFile_EveryExample_WorksAsDocumented()
    {
        var path = Path.Combine(Path.GetDirectoryName(RepoPaths.Config)!, "src", "AdCtr.Server", "AdCtr.Server.http");
        var requests = Parse(File.ReadAllLines(path));
        Assert.True(requests.Count >= 11, "requests found: " + requests.Count);
        await using var server = await LoopbackServer.StartAsync();
        foreach (var r in requests)
        {
            using var message = new HttpRequestMessage(new HttpMethod(r.Method), r.Path);
            if (r.Body.Length > 0)
            {
                message.Content = new StringContent(r.Body, Encoding.UTF8, r.ContentType ?? "application/json");
            }

            using var response = await server.Client.SendAsync(message);
            var expectFailure = r.Title.StartsWith("A bad request", StringComparison.Ordinal);
            Assert.True(expectFailure ? (int)response.StatusCode == 400 : response.IsSuccessStatusCode, $"{r.Title}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private sealed record HttpExample(string Title, string Method, string Path, string? ContentType, string Body);

    private static List<HttpExample> Parse(string[] lines)
    {
        var result = new List<HttpExample>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("###", StringComparison.Ordinal))
            {
                continue;
            }

            var title = lines[i][3..].Trim();
            var request = lines[++i].Split(' ', 2);
            string? contentType = null;
            while (i + 1 < lines.Length && lines[i + 1].Contains(':', StringComparison.Ordinal) && !lines[i + 1].StartsWith('{') && !lines[i + 1].StartsWith('['))
            {
                var header = lines[++i].Split(':', 2);
                if (header[0].Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    contentType = header[1].Trim();
                }
            }

            var body = new StringBuilder();
            while (i + 1 < lines.Length && !lines[i + 1].StartsWith("###", StringComparison.Ordinal))
            {
                body.Append(lines[++i]).Append('\n');
            }

            result.Add(new HttpExample(title, request[0], request[1].Replace("{{host}}", "", StringComparison.Ordinal), contentType, body.ToString().Trim()));
        }

        return result;
    }
}

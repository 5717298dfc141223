using System.Text;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

/// <summary>Thousands of random and mutated bodies: the server answers each with a non-5xx status.</summary>
public sealed class FuzzTests
{
    private static readonly string[] Paths = ["/v1/predict", "/v1/examples", "/v1/explain"];

    private static readonly string[] Seeds =
    [
        """{"requestId":"r","context":{"user_age":"25-34","device":"mobile","hour":13,"x":true},"candidates":[{"adId":"a1","campaignId":"c1","advertiserId":"v","features":{"ad_category":"shoes"}},{"adId":"a2","campaignId":"c2"}]}""",
        """{"context":{"user_age":"25-34"},"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"},"label":1,"weight":2.0,"timestamp":"2026-01-05T12:00:00Z"}""",
        """[{"adId":"a1","campaignId":"c1","label":0},{"adId":"a2","campaignId":"c1","label":1,"timestamp":1767614400000}]""",
    ];

    private const string Punctuation = "{}[]\\\",:0123456789-+.eE";

    private static readonly string[] Tokens = ["{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "-1", "1e999", "NaN", "\"label\"", "\"candidates\"", "\u0000", "\uD800", "é", "\n", "0.5", "{}", "[]"];

    [Fact]
    public async Task Endpoints_MutatedValidBodies_NeverAnswer5xx()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Limits:MaxCandidates=50");
        var random = new Random(20261121);
        for (var i = 0; i < 3000; i++)
        {
            var body = Mutate(Seeds[i % Seeds.Length], random);
            var path = Paths[random.Next(Paths.Length)];
            var mediaType = random.Next(3) == 0 ? "application/x-ndjson" : "application/json";
            using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, mediaType));
            Assert.True((int)response.StatusCode < 500, $"{path} answered {(int)response.StatusCode} to: {body}");
        }
    }

    [Fact]
    public async Task Endpoints_RandomStrings_NeverAnswer5xx()
    {
        await using var server = await LoopbackServer.StartAsync();
        var random = new Random(7);
        for (var i = 0; i < 1500; i++)
        {
            var length = random.Next(64);
            var chars = new char[length];
            for (var k = 0; k < length; k++)
            {
                // Mostly JSON punctuation and printable ASCII, sometimes any UTF-16 unit (lone surrogates included).
                chars[k] = random.Next(4) switch
                {
                    0 => Punctuation[random.Next(Punctuation.Length)],
                    1 => (char)random.Next(0, 0x10000),
                    _ => (char)random.Next(32, 127),
                };
            }

            var body = new string(chars);
            var path = Paths[i % Paths.Length];
            using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True((int)response.StatusCode < 500, $"{path} answered {(int)response.StatusCode} to: {body}");
        }
    }

    private static string Mutate(string seed, Random random)
    {
        var text = new StringBuilder(seed);
        var operations = 1 + random.Next(4);
        for (var k = 0; k < operations && text.Length > 0; k++)
        {
            var at = random.Next(text.Length);
            switch (random.Next(5))
            {
                case 0:
                    text.Remove(at, Math.Min(1 + random.Next(8), text.Length - at));
                    break;
                case 1:
                    text.Insert(at, Tokens[random.Next(Tokens.Length)]);
                    break;
                case 2:
                    text[at] = (char)random.Next(32, 127);
                    break;
                case 3:
                    var length = Math.Min(1 + random.Next(40), text.Length - at);
                    text.Insert(at, text.ToString(at, length));
                    break;
                default:
                    text.Length = at;
                    break;
            }
        }

        return text.ToString();
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenQA.Selenium;

namespace AdCtr.Server.Tests.ConsolePage;

/// <summary>
/// The console page in a real browser (headless Chromium from Debian) against the real server on loopback: the
/// charts and tables must be drawn from the data the server learned, and show what the JSON API says.
/// Set <c>ADCTR_CONSOLE_SCREENSHOT</c> to a PNG path to keep the screenshot (docs/console.png is made that way).
/// </summary>
public sealed class ConsolePageBrowserTests
{
    private static readonly TimeSpan RenderTimeout = TimeSpan.FromSeconds(30);
    // The page groups thousands with commas (en-US); so does the invariant culture (the build is globalization-invariant).
    private static readonly CultureInfo English = CultureInfo.InvariantCulture;

    [Fact]
    public async Task ConsolePage_AfterLearning_DrawsChartsAndTablesFromTheApi()
    {
        await using var server = await ConsoleServer.StartAsync(
            "--AdCtr:Calibration:MinExamples=1000",
            "--AdCtr:Calibration:RefitEvery=1000");
        var traffic = new ConsoleTraffic(seed: 20261202);

        // 9 batches of 450 examples, a history sample (5 s of server clock) after each, and a few served
        // predictions with their impressions and clicks for the joiner.
        const int Batches = 9, BatchSize = 450;
        for (var b = 0; b < Batches - 1; b++)
        {
            await server.PostExamplesAsync(traffic.Batch(BatchSize), BatchSize);
            server.Clock.Advance(TimeSpan.FromSeconds(5));
        }

        var clicked = await ServeAndJoinAsync(server, traffic);
        Assert.Equal(0, (await server.GetJsonAsync("/v1/joiner")).GetProperty("events").GetProperty("invalid").GetInt64());

        using var browser = Browser.Start(1440, 900);
        browser.Driver.Navigate().GoToUrl(server.Address);
        browser.WaitUntil(() => browser.Refreshes() >= 1, RenderTimeout, "the first render");
        Assert.Equal("live", browser.Driver.FindElement(By.Id("status")).GetDomAttribute("data-state"));

        // It refreshes itself: one more batch and sample, and the page shows the new version without a reload.
        await server.PostExamplesAsync(traffic.Batch(BatchSize), BatchSize);
        server.Clock.Advance(TimeSpan.FromSeconds(5));
        var version = (await server.GetJsonAsync("/v1/models")).GetProperty("version").GetInt64();
        Assert.Equal(traffic.Total + clicked, version);
        browser.WaitUntil(() => Attribute(browser, "#model-version", "data-value") == version.ToString(CultureInfo.InvariantCulture), RenderTimeout, "version " + version);
        // A refresh that starts after this point reads the final state (one in flight may have started before).
        var seen = browser.Refreshes();
        browser.WaitUntil(() => browser.Refreshes() >= seen + 2, RenderTimeout, "two more refreshes");

        var models = await server.GetJsonAsync("/v1/models");
        var reliability = await server.GetJsonAsync("/v1/models/reliability");
        var history = await server.GetJsonAsync("/v1/models/history");
        var campaigns = await server.GetJsonAsync("/v1/campaigns?sort=examples&limit=12");
        var joiner = await server.GetJsonAsync("/v1/joiner");

        // One snapshot of what the page shows, taken in a single script so that no refresh redraws it halfway.
        var page = Snapshot(browser);
        SaveScreenshot(browser);

        // The page's stylesheet and script came from the server under its content security policy.
        Assert.Equal("8px", page.GetProperty("kpiRadius").GetString());

        // Headline figures.
        Assert.Equal(version.ToString(CultureInfo.InvariantCulture), page.GetProperty("version").GetString());
        Assert.Equal(version.ToString("N0", English), page.GetProperty("versionText").GetString());
        AssertSameNumber(models.GetProperty("progressive").GetProperty("logLoss"), page.GetProperty("logLoss").GetString());
        AssertSameNumber(models.GetProperty("progressive").GetProperty("normalizedEntropy"), page.GetProperty("normalizedEntropy").GetString());
        AssertSameNumber(reliability.GetProperty("auc"), page.GetProperty("auc").GetString());

        // Reliability diagram: one circle per bin at the API's (mean prediction, observed rate), and the diagonal.
        var bins = reliability.GetProperty("bins").EnumerateArray().ToArray();
        Assert.Equal(version, reliability.GetProperty("examples").GetInt32()); // the window (200,000) holds every example
        Assert.Equal(10, bins.Length);
        var circles = page.GetProperty("bins").EnumerateArray().ToArray();
        Assert.Equal(bins.Length, circles.Length);
        for (var i = 0; i < bins.Length; i++)
        {
            AssertSameNumber(bins[i].GetProperty("meanPrediction"), circles[i].GetProperty("meanPrediction").GetString());
            AssertSameNumber(bins[i].GetProperty("observedRate"), circles[i].GetProperty("observedRate").GetString());
            Assert.Equal(bins[i].GetProperty("examples").GetInt64().ToString(CultureInfo.InvariantCulture), circles[i].GetProperty("examples").GetString());
        }

        Assert.Equal(1, page.GetProperty("diagonals").GetInt32());

        // Log loss and NE over time: one point per history sample that has the value, in order.
        var samples = history.GetProperty("samples").EnumerateArray().ToArray();
        Assert.Equal(Batches + 1, samples.Length); // the sample at start and one per 5 s advanced
        AssertSeries(page.GetProperty("logLossCumulative"), samples, "logLoss", Batches);
        AssertSeries(page.GetProperty("logLossInterval"), samples, "intervalLogLoss", Batches);
        AssertSeries(page.GetProperty("neCumulative"), samples, "normalizedEntropy", Batches);
        AssertSeries(page.GetProperty("neInterval"), samples, "intervalNormalizedEntropy", Batches);
        Assert.Equal(Batches, page.GetProperty("rateBars").GetInt32());

        // Busiest campaigns: the API's order and counts, which are the examples this test posted.
        var expected = campaigns.GetProperty("campaigns").EnumerateArray().ToArray();
        Assert.Equal(ConsoleTraffic.Campaigns.Length, expected.Length);
        var rows = page.GetProperty("campaigns").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, rows.Length);
        for (var i = 0; i < rows.Length; i++)
        {
            var id = expected[i].GetProperty("campaignId").GetString()!;
            var examples = expected[i].GetProperty("examples").GetInt64();
            Assert.Equal(id, rows[i].GetProperty("id").GetString());
            Assert.Equal(examples.ToString(CultureInfo.InvariantCulture), rows[i].GetProperty("examples").GetString());
            Assert.Equal(examples.ToString("N0", English), rows[i].GetProperty("examplesText").GetString());
            Assert.Equal(traffic.PerCampaign[id] + (id == ConsoleTraffic.Campaigns[0] ? clicked : 0), examples);
        }

        // Joiner state.
        Assert.True(joiner.GetProperty("pending").GetInt64() > 0);
        Assert.Equal(joiner.GetProperty("pending").GetInt64().ToString(CultureInfo.InvariantCulture), page.GetProperty("pending").GetString());
        Assert.Equal(joiner.GetProperty("served").GetInt64().ToString(CultureInfo.InvariantCulture), page.GetProperty("served").GetString());
        Assert.Equal(clicked.ToString(CultureInfo.InvariantCulture), page.GetProperty("positives").GetString());
    }

    [Fact]
    public async Task ConsolePage_LaptopScreen_FitsTheWidthAndShowsTheChartsWithoutScrolling()
    {
        await using var server = await ConsoleServer.StartAsync();
        var traffic = new ConsoleTraffic(seed: 7);
        await server.PostExamplesAsync(traffic.Batch(2000), 2000);
        server.Clock.Advance(TimeSpan.FromSeconds(5));

        using var browser = Browser.Start(1366, 768);
        browser.Driver.Navigate().GoToUrl(server.Address);
        browser.WaitUntil(() => browser.Refreshes() >= 1, RenderTimeout, "the first render");

        // No horizontal scroll bar, and the three charts are entirely inside the first screen.
        var widths = browser.Script<IReadOnlyCollection<object>>("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];")!.Select(Convert.ToInt64).ToArray();
        Assert.True(widths[0] <= widths[1], $"page is {widths[0]} px wide in a {widths[1]} px window");
        foreach (var chart in new[] { "reliability-chart", "logloss-chart", "ne-chart" })
        {
            var bottom = Convert.ToDouble(browser.Script<object>("return document.getElementById(arguments[0]).getBoundingClientRect().bottom;", chart), CultureInfo.InvariantCulture);
            var height = Convert.ToDouble(browser.Script<object>("return window.innerHeight;"), CultureInfo.InvariantCulture);
            Assert.True(bottom <= height, $"{chart} ends at {bottom} px, below the {height} px screen");
        }

        // Text stays readable: no chart label drawn smaller than 9 CSS pixels once the SVG is scaled to its box.
        var smallest = Convert.ToDouble(browser.Script<object>("""
            let min = 1e9;
            for (const svg of document.querySelectorAll('svg.chart')) {
              const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
              for (const t of svg.querySelectorAll('text')) min = Math.min(min, parseFloat(getComputedStyle(t).fontSize) * scale);
            }
            return min;
            """), CultureInfo.InvariantCulture);
        Assert.InRange(smallest, 9, 100);
    }

    [Fact]
    public async Task ConsolePage_ServerStopped_ShowsTheErrorInsteadOfStaleFigures()
    {
        var server = await ConsoleServer.StartAsync();
        using var browser = Browser.Start(1366, 768);
        try
        {
            browser.Driver.Navigate().GoToUrl(server.Address);
            browser.WaitUntil(() => browser.Refreshes() >= 1, RenderTimeout, "the first render");
            // An empty model: nothing to draw yet, and the page says so.
            Assert.Empty(browser.Driver.FindElements(By.CssSelector("#reliability-chart circle.bin")));
            Assert.Contains("no campaign", browser.Driver.FindElement(By.CssSelector("#campaigns tbody")).Text, StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }

        browser.WaitUntil(() => Attribute(browser, "#status", "data-state") == "error", RenderTimeout, "the error state");
        Assert.StartsWith("cannot read the API", browser.Driver.FindElement(By.Id("status")).Text, StringComparison.Ordinal);
    }

    /// <summary>Serves 20 requests of 3 candidates, posts an impression for each first candidate, clicks 4 of them, and one click for an id never served.</summary>
    private static async Task<int> ServeAndJoinAsync(ConsoleServer server, ConsoleTraffic traffic)
    {
        var events = new StringBuilder();
        for (var r = 0; r < 20; r++)
        {
            var response = await server.PostJsonAsync("/v1/predict", traffic.Predict(3));
            var id = response.GetProperty("predictions")[0].GetProperty("impressionId").GetString();
            events.Append("{\"type\":\"impression\",\"impressionId\":\"").Append(id).Append("\"}\n");
            if (r % 5 == 0)
            {
                events.Append("{\"type\":\"click\",\"impressionId\":\"").Append(id).Append("\"}\n");
            }
        }

        events.Append("{\"type\":\"click\",\"impressionId\":\"i00000000000000ff\"}\n");
        using var posted = await server.Client.PostAsync("/v1/events", new StringContent(events.ToString(), Encoding.UTF8, "application/x-ndjson"));
        Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        return 4;
    }

    private static void AssertSeries(JsonElement shown, JsonElement[] samples, string property, int expectedPoints)
    {
        var values = samples.Where(s => s.GetProperty(property).ValueKind == JsonValueKind.Number).Select(s => s.GetProperty(property)).ToArray();
        Assert.Equal(expectedPoints, values.Length);
        var points = shown.EnumerateArray().ToArray();
        Assert.Equal(values.Length, points.Length);
        for (var i = 0; i < values.Length; i++)
        {
            AssertSameNumber(values[i], points[i].GetString());
        }
    }

    private static JsonElement Snapshot(Browser browser)
    {
        var json = browser.Script<string>("""
            const q = (s) => document.querySelector(s);
            const all = (s) => Array.from(document.querySelectorAll(s));
            const values = (s) => all(s).map((e) => e.getAttribute('data-value'));
            return JSON.stringify({
              kpiRadius: getComputedStyle(q('.kpi')).borderTopLeftRadius,
              version: q('#model-version').dataset.value,
              versionText: q('#model-version').textContent,
              logLoss: q('#log-loss').dataset.value,
              normalizedEntropy: q('#normalized-entropy').dataset.value,
              auc: q('#auc').dataset.value,
              bins: all('#reliability-chart circle.bin').map((c) => ({
                meanPrediction: c.getAttribute('data-mean-prediction'),
                observedRate: c.getAttribute('data-observed-rate'),
                examples: c.getAttribute('data-examples'),
              })),
              diagonals: all('#reliability-chart line.diagonal').length,
              logLossCumulative: values('#logloss-chart circle.point-cumulative'),
              logLossInterval: values('#logloss-chart circle.point-interval'),
              neCumulative: values('#ne-chart circle.point-cumulative'),
              neInterval: values('#ne-chart circle.point-interval'),
              rateBars: all('#rate-chart rect.spark-bar').length,
              campaigns: all('#campaigns tbody tr').map((r) => ({
                id: r.dataset.campaignId,
                examples: r.dataset.examples,
                examplesText: r.querySelector('td.examples').textContent,
              })),
              pending: q('#joiner-pending').dataset.value,
              served: q('#joiner-served').dataset.value,
              positives: q('#joiner-positives').dataset.value,
            });
            """);
        Assert.NotNull(json);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    /// <summary>The page writes numbers with JavaScript's shortest round-trip form: parsed, they are the very same double.</summary>
    private static void AssertSameNumber(JsonElement expected, string? shown)
    {
        Assert.Equal(JsonValueKind.Number, expected.ValueKind);
        Assert.NotNull(shown);
        Assert.Equal(expected.GetDouble(), double.Parse(shown, NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    private static string? Attribute(Browser browser, string selector, string name)
    {
        var found = browser.Driver.FindElements(By.CssSelector(selector));
        return found.Count == 0 ? null : found[0].GetDomAttribute(name);
    }

    /// <summary>The whole page at the window's width: the window is made as tall as the page first.</summary>
    private static void SaveScreenshot(Browser browser)
    {
        var heights = browser.Script<IReadOnlyCollection<object>>("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];")!.Select(Convert.ToInt32).ToArray();
        var window = browser.Driver.Manage().Window;
        window.Size = new System.Drawing.Size(window.Size.Width, heights[0] + heights[1]);
        var path = Environment.GetEnvironmentVariable("ADCTR_CONSOLE_SCREENSHOT") ?? Path.Combine(AppContext.BaseDirectory, "console.png");
        browser.Driver.GetScreenshot().SaveAsFile(path);
    }
}

using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace AdCtr.Server.Tests.ConsolePage;

/// <summary>
/// Headless Chromium from Debian driven by its chromedriver through Selenium. Both paths are given explicitly, so
/// Selenium Manager never runs and nothing is downloaded. A missing browser fails the test with how to install it.
/// </summary>
internal sealed class Browser : IDisposable
{
    public const string Install = "apt-get install chromium chromium-driver";

    private readonly string _profile;

    private Browser(ChromeDriver driver, string profile)
    {
        Driver = driver;
        _profile = profile;
    }

    public ChromeDriver Driver { get; }

    /// <summary>Chromium (<c>ADCTR_CHROMIUM</c>, default /usr/bin/chromium) and chromedriver (<c>ADCTR_CHROMEDRIVER</c>, default /usr/bin/chromedriver).</summary>
    public static Browser Start(int width, int height)
    {
        var chromium = Environment.GetEnvironmentVariable("ADCTR_CHROMIUM") ?? "/usr/bin/chromium";
        var chromedriver = Environment.GetEnvironmentVariable("ADCTR_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        if (!File.Exists(chromium) || !File.Exists(chromedriver))
        {
            Assert.Fail($"The console page tests need headless Chromium and its driver ({chromium}, {chromedriver}): {Install}");
        }

        var profile = Directory.CreateTempSubdirectory("adctr-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments(
            "--headless=new",
            "--no-sandbox", // root in a container has no user namespace sandbox
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--lang=en-US",
            "--user-data-dir=" + profile,
            $"--window-size={width},{height}");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(chromedriver)!, Path.GetFileName(chromedriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        try
        {
            var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
            return new Browser(driver, profile);
        }
        catch
        {
            service.Dispose();
            Directory.Delete(profile, recursive: true);
            throw;
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) until <paramref name="condition"/> holds; fails with <paramref name="what"/> otherwise.</summary>
    public void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what}; page status: {Status()}");
            }

            Thread.Sleep(50); // a real browser renders on its own clock: a bounded poll is the only way to wait for it
        }
    }

    public string Status()
    {
        try
        {
            return Driver.FindElement(By.Id("status")).Text;
        }
        catch (WebDriverException e)
        {
            return "(no status: " + e.Message + ")";
        }
    }

    public int Refreshes() => Script<long?>("return Number(document.documentElement.dataset.refreshes || 0);") is { } n ? (int)n : 0;

    public T? Script<T>(string script, params object[] args) => (T?)Driver.ExecuteScript(script, args);

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // chromium may still be writing its profile as it exits; the temp directory is cleaned by the OS
        }
    }
}

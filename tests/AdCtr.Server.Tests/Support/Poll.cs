namespace AdCtr.Server.Tests.Support;

/// <summary>
/// The one wait of the multi-process tests: server processes and PostgreSQL run on their own clocks, so a test asks
/// again until the condition holds, at most until a deadline (then it fails with what it last saw). Never used where
/// the test controls time (those take a manual TimeProvider).
/// </summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Asks <paramref name="condition"/> until it returns null (done) or <paramref name="timeout"/> passes; it returns what it saw otherwise.</summary>
    public static async Task UntilAsync(Func<Task<string?>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var seen = await condition();
            if (seen is null)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, seen + " after " + timeout);
            await Task.Delay(Interval);
        }
    }
}

namespace AdCtr.Learning.Tests.Support;

internal static class RepoPaths
{
    /// <summary>The repository's config/ folder, found by walking up from the test binaries.</summary>
    public static string Config
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "AdCtr.sln")))
                {
                    return Path.Combine(dir.FullName, "config");
                }
            }

            throw new InvalidOperationException("AdCtr.sln not found above " + AppContext.BaseDirectory);
        }
    }
}

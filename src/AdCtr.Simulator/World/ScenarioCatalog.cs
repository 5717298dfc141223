using System.Text.Json;

namespace AdCtr.Simulator.World;

/// <summary>
/// Finds and loads scenarios. A name is looked up as <c>config/scenarios/NAME.json</c> under the current
/// directory, then under the executable's directory (the build copies config/scenarios next to it); a value that
/// ends in <c>.json</c> or contains a directory separator is read as a path.
/// </summary>
public static class ScenarioCatalog
{
    /// <summary>Relative folder that holds the shipped scenarios.</summary>
    public static readonly string RelativeDirectory = Path.Combine("config", "scenarios");

    /// <summary>The folders searched for scenario names, in order.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var cwd = Path.GetFullPath(RelativeDirectory);
        var exe = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, RelativeDirectory));
        return string.Equals(cwd, exe, StringComparison.Ordinal) ? [cwd] : [cwd, exe];
    }

    /// <summary>Names of all scenarios found in <see cref="SearchDirectories"/>, sorted, without duplicates.</summary>
    public static IReadOnlyList<string> AvailableNames()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var dir in SearchDirectories())
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(dir, "*.json"))
            {
                names.Add(Path.GetFileNameWithoutExtension(file));
            }
        }

        return [.. names];
    }

    /// <summary>Resolves a name or path to a file, or throws a <see cref="ScenarioException"/> listing the available names.</summary>
    public static string Resolve(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        var looksLikePath = nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            || nameOrPath.Contains('/', StringComparison.Ordinal)
            || nameOrPath.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal);
        if (looksLikePath)
        {
            return File.Exists(nameOrPath)
                ? Path.GetFullPath(nameOrPath)
                : throw new ScenarioException("scenario file '" + nameOrPath + "' does not exist");
        }

        foreach (var dir in SearchDirectories())
        {
            var candidate = Path.Combine(dir, nameOrPath + ".json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        var available = AvailableNames();
        throw new ScenarioException("unknown scenario '" + nameOrPath + "'; available: "
            + (available.Count == 0 ? "(none found in " + string.Join(", ", SearchDirectories()) + ")" : string.Join(", ", available)));
    }

    /// <summary>Resolves, reads, deserialises and validates a scenario.</summary>
    public static ScenarioDefinition Load(string nameOrPath) => LoadFile(Resolve(nameOrPath));

    /// <summary>Reads, deserialises and validates a scenario file; the name defaults to the file name.</summary>
    public static ScenarioDefinition LoadFile(string path)
    {
        var defaultName = Path.GetFileNameWithoutExtension(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (IOException ex)
        {
            throw new ScenarioException("scenario '" + defaultName + "': cannot read " + path + ": " + ex.Message, ex);
        }

        return Parse(json, defaultName);
    }

    /// <summary>Deserialises and validates scenario JSON.</summary>
    public static ScenarioDefinition Parse(string json, string defaultName)
    {
        ScenarioDefinition? scenario;
        try
        {
            scenario = JsonSerializer.Deserialize(json, ScenarioJsonContext.Default.ScenarioDefinition);
        }
        catch (JsonException ex)
        {
            // The serializer's message names the JSON path and line; keep it on one line.
            throw new ScenarioException("scenario '" + defaultName + "': " + OneLine(ex.Message), ex);
        }

        if (scenario is null)
        {
            throw new ScenarioException("scenario '" + defaultName + "': the file holds null, expected an object");
        }

        if (string.IsNullOrEmpty(scenario.Name))
        {
            scenario.Name = defaultName;
        }

        scenario.Validate();
        return scenario;
    }

    private static string OneLine(string message) =>
        message.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}

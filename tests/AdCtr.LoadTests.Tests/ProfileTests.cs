using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Tests;

public class ProfileTests
{
    public static TheoryData<string> ProfileNames()
    {
        var data = new TheoryData<string>();
        // Also config/loadtests/cluster (profiles for loadtests/ab/cluster_ab.sh, outside the suite).
        foreach (var file in Directory.GetFiles(ProfileDirectory(), "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(ProfileDirectory(), file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public void Load_CommittedProfile_IsValidAndNamedAfterItsFile(string file)
    {
        var profile = LoadProfile.Load(Path.Combine(ProfileDirectory(), file));

        Assert.Equal(Path.GetFileNameWithoutExtension(file), profile.Name);
        Assert.NotEmpty(ScenarioRunner.Stages(profile, smoke: false));
        Assert.Equal("smoke", Assert.Single(ScenarioRunner.Stages(profile, smoke: true)).Phase);
    }

    [Fact]
    public void ProfileNames_CoverTheSixScenarios()
    {
        var names = Directory.GetFiles(ProfileDirectory(), "*.json").Select(Path.GetFileName).ToArray();

        foreach (var expected in new[] { "baseline.json", "predict-1.json", "predict-50.json", "examples-ndjson.json", "events.json", "mixed.json" })
        {
            Assert.Contains(expected, names);
        }
    }

    [Fact]
    public void Load_UnknownProperty_IsRejected()
    {
        var path = Path.Combine(Path.GetTempPath(), "adctr-load-profile-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(path, """{ "name": "x", "mix": [ { "kind": "echo" } ], "stepz": {} }""");

            Assert.Throws<System.Text.Json.JsonException>(() => LoadProfile.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Stages_OpenProfile_WarmupRampThenInjectSteps()
    {
        var profile = new LoadProfile
        {
            Name = "t",
            Warmup = new WarmupSpec { Rate = 300, Seconds = 2 },
            Steps = new StepsSpec { Rates = [100, 200], Seconds = 3 },
            Mix = [new MixEntry { Kind = "echo" }],
        };

        var stages = ScenarioRunner.Stages(profile, smoke: false);

        Assert.Equal(
            [("warmup", (LoadSimulation)Simulation.RampingInject(0, 300, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2))),
             ("step", Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3))),
             ("step", Simulation.Inject(200, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)))],
            stages);
    }

    internal static string ProfileDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        // Bounded by the file-system depth: walk up to the repository root (the directory holding AdCtr.sln).
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AdCtr.sln")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("AdCtr.sln not found above " + AppContext.BaseDirectory), "config", "loadtests");
    }
}

namespace Presence.Core.Tests;

/// <summary>Where the repository is, for tests that read or write files beside the sources.</summary>
internal static class RepositoryPaths
{
    /// <summary>The folder holding Presence.Core.sln, found above the test assembly.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Presence.Core.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Presence.Core.sln not found above " + AppContext.BaseDirectory);
    }
}

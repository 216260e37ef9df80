namespace OpenMoE.Tests.Data;

/// <summary>Finds files of this repository from the test's output directory.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenMoE.Ilgpu.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("OpenMoE.Ilgpu.sln not found above the test directory.");
    }
}

namespace OpenMoE.Runtime.Cuda;

/// <summary>
/// Where libcublas may live. ILGPU 1.5.3's own CuBlas binding only knows libcublas 10-12;
/// the GPU machines we target have cuBLAS 13 from Python's nvidia-cublas wheel, which no
/// loader path points at. Candidates, in order: OPENMOE_CUBLAS_PATH (a file or a folder),
/// the loader's own search by soname (LD_LIBRARY_PATH, ldconfig cache), each
/// LD_LIBRARY_PATH folder, then the nvidia/cublas/lib folder of Python site-packages and
/// the CUDA toolkit folders.
/// </summary>
public static class CuBlasLocator
{
    /// <summary>Environment variable naming libcublas.so.N itself or the folder holding it.</summary>
    public const string PathVariable = "OPENMOE_CUBLAS_PATH";

    /// <summary>Sonames we can bind, newest first (the v2 API we use is unchanged across them).</summary>
    public static IReadOnlyList<string> Sonames { get; } = ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"];

    /// <summary>Every candidate path or bare soname, in the order to try.</summary>
    public static IEnumerable<string> Candidates()
    {
        var explicitPath = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            if (File.Exists(explicitPath))
                yield return explicitPath;
            else
                foreach (var soname in Sonames)
                    yield return Path.Combine(explicitPath, soname);
        }
        foreach (var soname in Sonames)
            yield return soname;
        foreach (var folder in SearchFolders())
            foreach (var soname in Sonames)
            {
                var path = Path.Combine(folder, soname);
                if (File.Exists(path))
                    yield return path;
            }
    }

    private static IEnumerable<string> SearchFolders()
    {
        var ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "";
        foreach (var folder in ld.Split(':', StringSplitOptions.RemoveEmptyEntries))
            yield return folder;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string[] pythonRoots = ["/usr/local/lib", "/usr/lib", "/opt/conda/lib", Path.Combine(home, ".local/lib")];
        foreach (var root in pythonRoots.Where(Directory.Exists))
            foreach (var python in SafeDirectories(root, "python3*"))
                foreach (var packages in new[] { "site-packages", "dist-packages" })
                    yield return Path.Combine(python, packages, "nvidia", "cublas", "lib");
        foreach (var venv in new[] { Environment.GetEnvironmentVariable("VIRTUAL_ENV"), Environment.GetEnvironmentVariable("CONDA_PREFIX") })
            if (!string.IsNullOrEmpty(venv) && Directory.Exists(Path.Combine(venv, "lib")))
                foreach (var python in SafeDirectories(Path.Combine(venv, "lib"), "python3*"))
                    yield return Path.Combine(python, "site-packages", "nvidia", "cublas", "lib");
        yield return "/usr/local/cuda/lib64";
        yield return "/usr/local/cuda/targets/x86_64-linux/lib";
        yield return "/usr/lib/x86_64-linux-gnu";
    }

    private static IEnumerable<string> SafeDirectories(string root, string pattern)
    {
        try
        {
            return Directory.GetDirectories(root, pattern);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

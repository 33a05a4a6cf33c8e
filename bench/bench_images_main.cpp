// bench_images --out=DIR: writes the benchmark image sets as DIR/<set>/<n>.jpg (n from 0, in the
// order of source_photos()), so that a load generator can upload exactly the images the chain
// benchmark decodes.
#include "bench/bench_images.hpp"

#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--out=", 0) == 0) {
      out = arg.substr(6);
    } else {
      std::cerr << "bench_images: unknown argument " << arg << "\n";
      out.clear();
      break;
    }
  }
  if (out.empty()) {
    std::cerr << "usage: bench_images --out=DIR   (writes DIR/<set>/<n>.jpg)\n";
    return 2;
  }
  try {
    for (const auto& size : imgproc::bench::image_set_sizes()) {
      fs::path dir = fs::path(out) / size.name;
      fs::create_directories(dir);
      auto images = imgproc::bench::make_image_set(size.width, size.height);
      for (std::size_t n = 0; n < images.size(); ++n) {
        fs::path file = dir / (std::to_string(n) + ".jpg");
        std::ofstream stream(file, std::ios::binary | std::ios::trunc);
        stream.write(images[n].data(), static_cast<std::streamsize>(images[n].size()));
        if (!stream.flush())
          throw std::runtime_error("cannot write " + file.string());
        std::cout << file.string() << " " << images[n].size() << " bytes\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_images: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

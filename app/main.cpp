// imgproc: the image-processing service. See README.md.
#include "app/commands.hpp"
#include "app/settings.hpp"

#include <malloc.h>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  // Per-request image buffers are a few megabytes: above glibc's default mmap threshold, each
  // would be mapped and unmapped per stage, and page faults dominate (10.4 ms against 3.0 ms for
  // the car-detection chain on a 600x482 photo, measured on a 2-vCPU virtual machine). So they
  // come from the heap; a 1920x1080 image is 6 MiB. Larger ones (16 MiB and up: 5 MP and more)
  // are mapped, and a heap whose free top grows past 32 MiB gives it back: at 64 and 256 MiB a
  // node kept every 60 MB image it had ever made in each thread's heap (the job runner also
  // trims the heaps after a large request).
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty())
    return imgproc::print_usage(true);
  std::string command = args.front();
  args.erase(args.begin());
  if (command == "serve")
    return imgproc::run_serve(args, imgproc::role::serve);
  if (command == "gateway")
    return imgproc::run_serve(args, imgproc::role::gateway);
  if (command == "worker")
    return imgproc::run_worker(args);
  if (command == "migrate")
    return imgproc::run_migrate(args);
  if (command == "--help" || command == "-h" || command == "help")
    return imgproc::print_usage(false);
  return imgproc::print_usage(true);
}
